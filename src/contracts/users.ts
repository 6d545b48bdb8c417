import { Type } from '@sinclair/typebox';
import { defineContract } from './contract.ts';
import { Uuid } from './shared.ts';
import { Topics } from './topics.ts';

/**
 * An account was made (register, the demo seed, `orderflow users create-admin`): who the
 * services that write to a customer (notifications) send to. Nothing secret: no name, no
 * role, no password hash.
 */
export const UserRegistered = defineContract({
  type: 'UserRegistered', version: 1, topic: Topics.usersEvents, owner: 'users', kind: 'event', key: 'userId',
  schema: Type.Object({ userId: Uuid, email: Type.String({ minLength: 3, maxLength: 320 }) }),
});
