import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/**
 * A Kinesis client configured the SDK's default way (region, credentials, `AWS_ENDPOINT_URL_KINESIS` or
 * `AWS_ENDPOINT_URL`). The SDK's Kinesis client defaults to an HTTP/2 handler (for SubscribeToShard); a plain
 * `http://` endpoint (an emulator such as kinesalite) speaks HTTP/1.1 only, so it gets the HTTP/1.1 handler.
 */
export function createKinesisClient(env: NodeJS.ProcessEnv = process.env): KinesisClient {
  const endpoint = env.AWS_ENDPOINT_URL_KINESIS ?? env.AWS_ENDPOINT_URL;
  return new KinesisClient(endpoint?.startsWith('http://') ? { requestHandler: new NodeHttpHandler() } : {});
}
