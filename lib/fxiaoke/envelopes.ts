/**
 * Zod schemas of Fxiaoke response envelopes (spec §1.2, §4, §6). Only what the client reads is checked;
 * every schema is loose, so fields Fxiaoke adds later pass through.
 */
import { z } from 'zod';
import { crmRecordSchema } from './records.ts';

const intLike = z.union([
  z.number().int(),
  z
    .string()
    .regex(/^-?\d+$/)
    .transform(Number),
]);

/** `{traceId, errorCode, errorMessage, errorDescription}` — every answer has it; `errorCode 0` = success. */
export const envelopeSchema = z.looseObject({
  errorCode: intLike,
  errorMessage: z.string().nullish(),
  errorDescription: z.string().nullish(),
  traceId: z.string().nullish(),
});

export type Envelope = z.output<typeof envelopeSchema>;

/** `/data/query` → `data.dataList` (+ `total`, only meaningful with `find_explicit_total_num`). */
export const queryResultSchema = z.looseObject({
  data: z.looseObject({
    dataList: z.array(crmRecordSchema),
    total: intLike.nullish(),
    offset: intLike.nullish(),
    limit: intLike.nullish(),
  }),
});

/** `/data/get` → `data` is the record (null/absent is read as "not found"). */
export const getResultSchema = z.looseObject({ data: crmRecordSchema });

/** `/data/create` → top-level `dataId` (spec §4.3). */
export const createResultSchema = z.looseObject({ dataId: z.string().min(1) });

/** `/data/update` → envelope, "sometimes with dataId" (spec §4.4). */
export const updateResultSchema = z.looseObject({ dataId: z.string().nullish() });

export const fieldDescribeSchema = z.looseObject({
  api_name: z.string(),
  type: z.string(),
  label: z.string().nullish(),
  is_required: z.boolean().nullish(),
  is_active: z.boolean().nullish(),
  is_unique: z.boolean().nullish(),
  define_type: z.string().nullish(),
  options: z
    .array(
      z.looseObject({
        label: z.string().nullish(),
        value: z.union([z.string(), z.number()]).transform(String),
      }),
    )
    .nullish(),
});

export type FieldDescribe = z.output<typeof fieldDescribeSchema>;

/** `/object/describe` → `data.describe {api_name, fields{…}}` (spec §6). */
export const describeResultSchema = z.looseObject({
  data: z.looseObject({
    describe: z.looseObject({
      api_name: z.string(),
      display_name: z.string().nullish(),
      fields: z.record(z.string(), fieldDescribeSchema),
    }),
  }),
});

/** `/object/list` → `data.objects[]` (spec §6, OBS). */
export const objectListResultSchema = z.looseObject({
  data: z.looseObject({
    objects: z.array(
      z.looseObject({
        describeApiName: z.string(),
        describeDisplayName: z.string().nullish(),
        defineType: z.string().nullish(),
        isActive: z.boolean().nullish(),
      }),
    ),
  }),
});
