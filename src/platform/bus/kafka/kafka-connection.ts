/**
 * The connection options every Kafka client of the adapter is made with, from the
 * platform's KafkaSecurity: TLS (the broker's certificate checked against the CA file, or
 * the system's CAs) and SASL (SCRAM or PLAIN). Plaintext adds nothing.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import type { SASLOptions } from '@platformatic/kafka';
import type { KafkaSecurity } from '../../config.ts';
import { ConfigError } from '../../errors.ts';

export interface KafkaConnection {
  tls?: TlsOptions;
  sasl?: SASLOptions;
}

export function kafkaConnection(security: KafkaSecurity | undefined): KafkaConnection {
  if (security === undefined || security.protocol === 'PLAINTEXT') return {};
  const out: KafkaConnection = {};
  if (security.protocol === 'SSL' || security.protocol === 'SASL_SSL') {
    let ca: string | undefined;
    if (security.caFile) {
      try {
        ca = readFileSync(security.caFile, 'utf8');
      } catch (cause) {
        throw ConfigError(`KAFKA_SSL_CA_FILE ${security.caFile} cannot be read: ${(cause as Error).message}`, { cause });
      }
    }
    // The certificate is always checked (no rejectUnauthorized: false): a broker that cannot
    // be verified is not the broker.
    out.tls = ca === undefined ? {} : { ca };
  }
  if (security.sasl) out.sasl = { mechanism: security.sasl.mechanism, username: security.sasl.username, password: security.sasl.password };
  return out;
}
