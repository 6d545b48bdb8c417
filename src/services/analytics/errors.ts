import { defineError } from '#platform/errors.ts';

export const BadWindow = defineError('ANL_ERR_BAD_WINDOW', 400);
export const BadRange = defineError('ANL_ERR_BAD_RANGE', 400);
export const PipelineBusy = defineError('ANL_ERR_PIPELINE_BUSY', 503);
