import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from './config.ts';

test("the console's Zipkin link: GATEWAY_ZIPKIN_UI_URL, else the exporter's Zipkin when tracing exports there, else none", () => {
  assert.equal(loadConfig({}).zipkinUiUrl, null);
  assert.equal(loadConfig({ OTEL_TRACES_EXPORTER: 'otlp' }).zipkinUiUrl, null);
  assert.equal(loadConfig({ OTEL_TRACES_EXPORTER: 'zipkin' }).zipkinUiUrl, 'http://localhost:9411');
  assert.equal(loadConfig({ OTEL_TRACES_EXPORTER: 'zipkin', OTEL_EXPORTER_ZIPKIN_ENDPOINT: 'http://zipkin:9411/api/v2/spans' }).zipkinUiUrl, 'http://zipkin:9411');
  assert.equal(loadConfig({ OTEL_TRACES_EXPORTER: 'zipkin', GATEWAY_ZIPKIN_UI_URL: 'https://traces.example.com/' }).zipkinUiUrl, 'https://traces.example.com');
  assert.equal(loadConfig({ GATEWAY_ZIPKIN_UI_URL: 'http://127.0.0.1:9411' }).zipkinUiUrl, 'http://127.0.0.1:9411');
  assert.throws(() => loadConfig({ GATEWAY_ZIPKIN_UI_URL: 'javascript:alert(1)' }), { code: 'PLT_ERR_CONFIG' });
});
