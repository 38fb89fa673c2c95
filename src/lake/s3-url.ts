/**
 * `s3://bucket/prefix` URLs, parsed in one place: the lake root (`--out`, `--lake`, `LAKE_URL`), input
 * prefixes (`ingest s3://...`) and Athena locations all go through these functions.
 */

/**
 * An S3 URL: a bucket name as S3 allows it (3 to 63 lower-case letters, digits, dots and hyphens, starting
 * and ending with a letter or digit), then optionally `/` and a key prefix.
 */
export const S3_URL = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/;

/** A parsed `s3://bucket/prefix` URL. */
export interface S3Location {
  bucket: string;
  prefix: string;
}

/** True for an `s3://` URL (well formed or not: {@link parseS3Url} tells). */
export function isS3Url(url: string): boolean {
  return url.startsWith('s3://');
}

/** Bucket and key prefix exactly as written (a prefix, not a folder: `s3://b/logs/pg` matches `logs/pg-1.log`). */
export function parseS3Prefix(url: string): S3Location {
  const m = S3_URL.exec(url);
  if (!m) throw new Error(`not an S3 URL: ${url} (expected s3://bucket/prefix)`);
  return { bucket: m[1], prefix: m[2] ?? '' };
}

/** Parses a folder `s3://bucket[/prefix]`: `prefix` is empty or ends with `/`. Throws a one-line error on anything else. */
export function parseS3Url(url: string): S3Location {
  const { bucket, prefix } = parseS3Prefix(url);
  const rest = prefix.replace(/^\/+/, '');
  return { bucket, prefix: rest === '' || rest.endsWith('/') ? rest : `${rest}/` };
}
