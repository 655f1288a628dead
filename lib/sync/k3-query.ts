/**
 * Running the mappings' ExecuteBillQuery bodies through the K3Cloud client, every page of them.
 */
import type { K3CallOptions, K3CloudClient } from '../k3cloud/client.ts';
import { type K3BillQuery, type K3Row, parseBillQueryRows } from '../mappings/k3-requests.ts';

/**
 * Every row of `query` (paged with the query's `Limit` as page size), keyed by field key.
 *
 * @throws {K3CloudError} when K3 fails; {@link K3RowsError} when the rows are malformed.
 */
export async function queryRows(
  k3: K3CloudClient,
  query: K3BillQuery,
  options: K3CallOptions = {},
): Promise<K3Row[]> {
  const raw = await queryRawRows(k3, query, options);
  return parseBillQueryRows(query, raw);
}

/** The raw rows of every page (for the mappings' own parsers). @throws {K3CloudError} when K3 fails. */
export async function queryRawRows(
  k3: K3CloudClient,
  query: K3BillQuery,
  options: K3CallOptions = {},
): Promise<unknown[]> {
  return await k3.queryAll(
    {
      formId: query.FormId,
      fieldKeys: query.FieldKeys,
      filterString: query.FilterString,
      ...(query.OrderString ? { orderString: query.OrderString } : {}),
    },
    { ...options, pageSize: query.Limit },
  );
}
