/**
 * Query strings out of log lines. A download's URL is often its credential: a
 * presigned S3, GCS or Azure URL carries its signature (valid for hours) in the
 * query, and error messages name the URL they failed on. Logs are shipped and kept
 * where job results are not, so every log line is passed through
 * {@link redactUrlQueries} (see createLogger); the job's own results and errors,
 * which go to whoever submitted the job, keep the URL as given.
 */

/**
 * An http(s) URL with a query: scheme and authority and path (group 1), then the
 * query (group 2). Both stop at whitespace, double quotes, angle brackets and
 * backslashes, the query also at `#`. A log line is JSON: there the query goes on
 * over an escaped quote, backslash or slash (`\"`), which are part of the value,
 * and stops at any other escape (`\n`), which stands for a character that ends it.
 */
const URL_WITH_QUERY = /(\bhttps?:\/\/[^\s?#"<>\\]*)\?((?:[^\s#"<>\\]|\\["\\/])*)/gi;

/** Punctuation that ends a sentence rather than the query (`GET https://h/x?a=1: HTTP 403`). */
const TRAILING_PUNCTUATION = /[:;,.)\]]+$/;

/** The value that replaces each query parameter's value. */
export const REDACTED = 'REDACTED';

/**
 * `text` with the value of every query parameter of every http(s) URL in it
 * replaced by {@link REDACTED}; parameter names stay, as they tell what kind of
 * URL it was (`X-Amz-Signature`). A parameter without `=` is replaced whole.
 * Text without `://` comes back as it is, without a regular expression run.
 */
export function redactUrlQueries(text: string): string {
  if (!text.includes('://')) return text;
  return text.replace(URL_WITH_QUERY, (_all, base: string, query: string) => {
    const tail = TRAILING_PUNCTUATION.exec(query)?.[0] ?? '';
    const body = tail === '' ? query : query.slice(0, -tail.length);
    if (body === '') return `${base}?${tail}`;
    const params = body.split('&').map((param) => {
      if (param === '') return param;
      const eq = param.indexOf('=');
      return eq === -1 ? REDACTED : `${param.slice(0, eq)}=${REDACTED}`;
    });
    return `${base}?${params.join('&')}${tail}`;
  });
}
