import { gunzipSync } from 'node:zlib';

/**
 * CloudWatch Logs subscription payloads. Lambda receives `{"awslogs":{"data":"<base64(gzip(JSON))>"}}`;
 * Kinesis and Firehose destinations hold the gzip'd JSON itself (decompressed before it gets here).
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html
 */

/** One log event of a DATA_MESSAGE. */
export interface CloudWatchLogEvent {
  id: string;
  timestamp: number;
  message: string;
}

/** The decoded payload. */
export interface CloudWatchPayload {
  messageType: 'DATA_MESSAGE' | 'CONTROL_MESSAGE';
  owner: string;
  logGroup: string;
  logStream: string;
  logEvents: CloudWatchLogEvent[];
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Strict base64: Node's decoder silently skips characters that are not base64. */
export function decodeBase64Strict(text: string): Buffer | null {
  const compact = text.replace(/\s+/g, '');
  if (compact.length % 4 !== 0 || !BASE64.test(compact)) return null;
  return Buffer.from(compact, 'base64');
}

/** Validates a decoded JSON payload; a reason when it is not a subscription payload. */
export function checkPayload(doc: unknown): CloudWatchPayload | string {
  if (doc === null || typeof doc !== 'object') return 'not a JSON object';
  const o = doc as Record<string, unknown>;
  if (o.messageType !== 'DATA_MESSAGE' && o.messageType !== 'CONTROL_MESSAGE') {
    return `unknown CloudWatch messageType ${JSON.stringify(o.messageType)}`;
  }
  if (!Array.isArray(o.logEvents)) return 'CloudWatch payload has no logEvents array';
  for (const [i, e] of o.logEvents.entries()) {
    if (e === null || typeof e !== 'object' || typeof (e as CloudWatchLogEvent).message !== 'string') {
      return `CloudWatch logEvents[${i}] has no message`;
    }
  }
  return {
    messageType: o.messageType,
    owner: String(o.owner ?? ''),
    logGroup: String(o.logGroup ?? ''),
    logStream: String(o.logStream ?? ''),
    logEvents: o.logEvents as CloudWatchLogEvent[],
  };
}

/**
 * Decodes one document of a CloudWatch input: the Lambda `awslogs` form or the payload JSON itself.
 * Returns the payload or a reason.
 */
export function decodeCloudWatchDocument(doc: unknown): CloudWatchPayload | string {
  if (doc !== null && typeof doc === 'object' && 'awslogs' in doc) {
    const data = (doc as { awslogs?: { data?: unknown } }).awslogs?.data;
    if (typeof data !== 'string') return 'awslogs.data is not a string';
    const bytes = decodeBase64Strict(data);
    if (!bytes) return 'awslogs.data is not valid base64';
    let json: string;
    try {
      json = gunzipSync(bytes).toString('utf8');
    } catch (e) {
      return `awslogs.data is not gzip: ${(e as Error).message}`;
    }
    try {
      return checkPayload(JSON.parse(json));
    } catch (e) {
      return `awslogs.data does not hold JSON: ${(e as Error).message}`;
    }
  }
  return checkPayload(doc);
}

/** Cluster or instance named by an RDS log group: `/aws/rds/cluster/<id>/postgresql`, `/aws/rds/instance/<id>/postgresql`. */
export function rdsIdsFromLogGroup(logGroup: string, logStream: string): { clusterId: string | null; instanceId: string | null } {
  const m = /^\/aws\/rds\/(cluster|instance)\/([^/]+)\//.exec(logGroup);
  if (!m) return { clusterId: null, instanceId: logStream || null };
  return m[1] === 'cluster' ? { clusterId: m[2], instanceId: logStream || null } : { clusterId: null, instanceId: m[2] };
}
