// EC2's query protocol for the one action wakegate uses: form-encoded DescribeInstances in,
// XML in the 2016-11-15 namespace out, errors as <Response><Errors><Error>.
import { AwsFault, ACCOUNT, newRequestId, type Model } from './model.js'

export const EC2_VERSION = '2016-11-15'
const NS = `http://ec2.amazonaws.com/doc/${EC2_VERSION}/`

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

export function ec2ErrorXml (code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${esc(code)}</Code><Message>${esc(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`
}

/** Indexed list members (`InstanceId.1`, `InstanceId.2`, …) in order. */
function members (form: URLSearchParams, prefix: string): string[] {
  const out: Array<[number, string]> = []
  for (const [k, v] of form) {
    const m = new RegExp(`^${prefix}\\.(\\d+)$`).exec(k)
    if (m) out.push([Number(m[1]), v])
  }
  return out.sort((a, b) => a[0] - b[0]).map(([, v]) => v)
}

export function ec2Operations (m: Model): Record<string, (form: URLSearchParams, requestId: string) => string> {
  return {
    DescribeInstances (form, requestId) {
      const ids = members(form, 'InstanceId')
      if ([...form.keys()].some(k => k.startsWith('Filter.'))) throw new AwsFault('InternalError', 'fake EC2: filters are not implemented', 500)
      if (ids.length && form.has('MaxResults')) throw new AwsFault('InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults')
      const all = m.instances()
      for (const id of ids) {
        if (!/^i-[0-9a-f]{8,17}$/.test(id)) throw new AwsFault('InvalidInstanceID.Malformed', `Invalid id: "${id}"`)
        if (!all.some(i => i.ec2InstanceId === id)) throw new AwsFault('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`)
      }
      const chosen = ids.length ? all.filter(i => ids.includes(i.ec2InstanceId)) : all
      const items = chosen.map(i => `
      <item>
        <reservationId>r-${i.ec2InstanceId.slice(2)}</reservationId>
        <ownerId>${ACCOUNT}</ownerId>
        <groupSet/>
        <instancesSet>
          <item>
            <instanceId>${i.ec2InstanceId}</instanceId>
            <imageId>ami-0fake0000000000000</imageId>
            <instanceState><code>${i.terminated ? 48 : 16}</code><name>${i.terminated ? 'terminated' : 'running'}</name></instanceState>
            <privateDnsName>ip-${i.privateIp.replace(/\./g, '-')}.ec2.internal</privateDnsName>
            <instanceType>m6i.large</instanceType>
            <placement><availabilityZone>${m.opts.region}a</availabilityZone><tenancy>default</tenancy></placement>
            ${i.terminated ? '' : `<privateIpAddress>${i.privateIp}</privateIpAddress>`}
            <subnetId>subnet-0fake</subnetId>
            <vpcId>vpc-0fake</vpcId>
          </item>
        </instancesSet>
      </item>`).join('')
      return `<?xml version="1.0" encoding="UTF-8"?>\n<DescribeInstancesResponse xmlns="${NS}">\n  <requestId>${requestId}</requestId>\n  <reservationSet>${items}\n  </reservationSet>\n</DescribeInstancesResponse>`
    }
  }
}

export { newRequestId }
