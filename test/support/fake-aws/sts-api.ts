// STS's query protocol for the one action wakegate uses (`wakegate doctor` shows who the
// gateway runs as): form-encoded GetCallerIdentity in, XML in the 2011-06-15 namespace out,
// errors as <ErrorResponse><Error><Type>Sender</Type>… as STS sends them.
import { AwsFault } from './model.js'

export const STS_VERSION = '2011-06-15'
const NS = `https://sts.amazonaws.com/doc/${STS_VERSION}/`

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

/** The principal the fake says the caller is. */
export interface CallerIdentity { arn: string, userId: string, account: string }

export function stsErrorXml (code: string, message: string, requestId: string, status: number): string {
  const type = status >= 500 ? 'Receiver' : 'Sender'
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${NS}">\n  <Error>\n    <Type>${type}</Type>\n    <Code>${esc(code)}</Code>\n    <Message>${esc(message)}</Message>\n  </Error>\n  <RequestId>${requestId}</RequestId>\n</ErrorResponse>`
}

export function stsOperations (identity: () => CallerIdentity): Record<string, (form: URLSearchParams, requestId: string) => string> {
  return {
    GetCallerIdentity (form, requestId) {
      // No parameters; STS answers every caller, whatever its policies say.
      if ([...form.keys()].some(k => k !== 'Action' && k !== 'Version')) throw new AwsFault('InvalidParameterValue', 'GetCallerIdentity takes no parameters')
      const id = identity()
      return `<?xml version="1.0" encoding="UTF-8"?>\n<GetCallerIdentityResponse xmlns="${NS}">\n  <GetCallerIdentityResult>\n    <Arn>${esc(id.arn)}</Arn>\n    <UserId>${esc(id.userId)}</UserId>\n    <Account>${esc(id.account)}</Account>\n  </GetCallerIdentityResult>\n  <ResponseMetadata>\n    <RequestId>${requestId}</RequestId>\n  </ResponseMetadata>\n</GetCallerIdentityResponse>`
    }
  }
}
