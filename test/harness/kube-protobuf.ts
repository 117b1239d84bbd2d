/**
 * The little of Kubernetes' protobuf encoding the stand-in reads: kubectl's typed clients (`auth
 * can-i`) send `application/vnd.kubernetes.protobuf` bodies, which a real API server accepts. The
 * envelope is `k8s\0` followed by a `runtime.Unknown` message (typeMeta = 1 {apiVersion = 1,
 * kind = 2}, raw = 2); see apimachinery `runtime/serializer/protobuf` and `generated.proto` of
 * `authorization/v1` for the SelfSubjectAccessReview fields.
 */

/** The fields of one protobuf message: field number → values (varints as numbers, length-delimited as bytes). */
export function readMessage(buf: Buffer): Map<number, (number | Buffer)[]> {
  const fields = new Map<number, (number | Buffer)[]>();
  let i = 0;
  const varint = (): number => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = buf[i++];
      if (byte === undefined) throw new Error('protobuf: truncated varint');
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
      shift += 7;
    }
  };
  while (i < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    let value: number | Buffer;
    if (wire === 0) value = varint();
    else if (wire === 2) {
      const length = varint();
      value = buf.subarray(i, i + length);
      i += length;
    } else if (wire === 1) {
      value = buf.readDoubleLE(i);
      i += 8;
    } else if (wire === 5) {
      value = buf.readFloatLE(i);
      i += 4;
    } else throw new Error(`protobuf: unsupported wire type ${wire}`);
    fields.set(field, [...(fields.get(field) ?? []), value]);
  }
  return fields;
}

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** True when the body is a Kubernetes protobuf envelope. */
export function isProtobufEnvelope(body: Buffer): boolean {
  return body.subarray(0, 4).equals(MAGIC);
}

function text(fields: Map<number, (number | Buffer)[]>, n: number): string | undefined {
  const v = fields.get(n)?.[0];
  return Buffer.isBuffer(v) ? v.toString('utf8') : undefined;
}

function message(fields: Map<number, (number | Buffer)[]>, n: number): Map<number, (number | Buffer)[]> {
  const v = fields.get(n)?.[0];
  return Buffer.isBuffer(v) ? readMessage(v) : new Map();
}

/** A SelfSubjectAccessReview sent as protobuf, as the JSON object it stands for (resource attributes only). */
export function decodeSelfSubjectAccessReview(body: Buffer): Record<string, unknown> {
  const unknown = readMessage(body.subarray(4));
  const typeMeta = message(unknown, 1);
  const review = message(unknown, 2);
  const attributes = message(message(review, 2), 1);
  const names = ['namespace', 'verb', 'group', 'version', 'resource', 'subresource', 'name'];
  const resourceAttributes = Object.fromEntries(names.flatMap((k, i) => {
    const v = text(attributes, i + 1);
    return v === undefined ? [] : [[k, v]];
  }));
  return { apiVersion: text(typeMeta, 1), kind: text(typeMeta, 2), spec: { resourceAttributes } };
}
