/**
 * A fake SSM Parameter Store endpoint for tests (SSM has no local engine; toolchain facts §2): `node:http`
 * speaking the AWS JSON 1.1 protocol the SDK's SSMClient uses — `POST /` with
 * `X-Amz-Target: AmazonSSM.<Operation>` — for GetParameter, GetParameters, GetParametersByPath (Recursive,
 * MaxResults/NextToken paging) and PutParameter. Errors are HTTP 400 `{"__type": "ParameterNotFound", …}`,
 * which the SDK maps to the right exception name. Signatures are not checked.
 *
 * ```ts
 * const ssm = await startFakeSsm({ '/app/dev/K3CLOUD_APP_SECRET': 'fake-secret' });
 * process.env.AWS_ENDPOINT_URL_SSM = ssm.url;
 * await ssm.close();
 * ```
 */
import { createServer } from 'node:http';

export interface FakeSsm {
  /** `http://127.0.0.1:<port>`, the value for `AWS_ENDPOINT_URL_SSM`. */
  url: string;
  /** Parameter name → value (edit it between calls to simulate a rotation). */
  store: Map<string, string>;
  /** Operations received, in order (e.g. to count GetParametersByPath calls). */
  calls: string[];
  close(): Promise<void>;
}

interface Parameter {
  Name: string;
  Type: 'SecureString';
  Value: string;
  Version: number;
  ARN: string;
}

function parameter(name: string, value: string): Parameter {
  return {
    Name: name,
    Type: 'SecureString',
    Value: value,
    Version: 1,
    ARN: `arn:aws:ssm:us-east-1:000000000000:parameter${name}`,
  };
}

/** Start the fake endpoint on 127.0.0.1 (free port) with `initial` parameters. */
export async function startFakeSsm(initial: Record<string, string> = {}): Promise<FakeSsm> {
  const store = new Map(Object.entries(initial));
  const calls: string[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const operation = String(request.headers['x-amz-target'] ?? '').replace('AmazonSSM.', '');
      calls.push(operation);
      let input: Record<string, unknown> = {};
      try {
        input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      } catch {
        input = {};
      }
      const reply = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        response.end(JSON.stringify(body));
      };
      const name = typeof input.Name === 'string' ? input.Name : '';
      switch (operation) {
        case 'GetParameter': {
          const value = store.get(name);
          if (value === undefined)
            reply(400, { __type: 'ParameterNotFound', message: `Parameter ${name} not found.` });
          else reply(200, { Parameter: parameter(name, value) });
          return;
        }
        case 'GetParameters': {
          const names = Array.isArray(input.Names) ? input.Names.map(String) : [];
          reply(200, {
            Parameters: names.filter((n) => store.has(n)).map((n) => parameter(n, store.get(n) ?? '')),
            InvalidParameters: names.filter((n) => !store.has(n)),
          });
          return;
        }
        case 'GetParametersByPath': {
          const path = String(input.Path ?? '/').replace(/\/?$/, '/');
          const matching = [...store.keys()]
            .filter(
              (n) => n.startsWith(path) && (input.Recursive === true || !n.slice(path.length).includes('/')),
            )
            .sort();
          const start = Number(input.NextToken ?? 0);
          const max = typeof input.MaxResults === 'number' ? input.MaxResults : 10;
          const page = matching.slice(start, start + max);
          reply(200, {
            Parameters: page.map((n) => parameter(n, store.get(n) ?? '')),
            ...(start + max < matching.length ? { NextToken: String(start + max) } : {}),
          });
          return;
        }
        case 'PutParameter': {
          if (store.has(name) && input.Overwrite !== true) {
            reply(400, {
              __type: 'ParameterAlreadyExists',
              message: `The parameter ${name} already exists.`,
            });
            return;
          }
          store.set(name, String(input.Value ?? ''));
          reply(200, { Version: 1, Tier: 'Standard' });
          return;
        }
        default:
          reply(400, { __type: 'InvalidAction', message: `${operation} is not supported by the fake SSM` });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    store,
    calls,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
