import type { KinesisClient } from '@aws-sdk/client-kinesis';

/**
 * A Kinesis client configured the SDK's default way (region, credentials, `AWS_ENDPOINT_URL_KINESIS` or
 * `AWS_ENDPOINT_URL`). The SDK's Kinesis client defaults to an HTTP/2 handler (for SubscribeToShard); a plain
 * `http://` endpoint (an emulator such as kinesalite) speaks HTTP/1.1 only, so it gets the HTTP/1.1 handler.
 * Async: the SDK is loaded here, so only a run that reads a stream loads it.
 */
export async function createKinesisClient(env: NodeJS.ProcessEnv = process.env): Promise<KinesisClient> {
  const endpoint = env.AWS_ENDPOINT_URL_KINESIS ?? env.AWS_ENDPOINT_URL;
  const { KinesisClient } = await import('@aws-sdk/client-kinesis');
  const { NodeHttpHandler } = await import('@smithy/node-http-handler');
  return new KinesisClient(endpoint?.startsWith('http://') ? { requestHandler: new NodeHttpHandler() } : {});
}
