// CDK writes every string built from tokens as an Fn::Join; as indented JSON an ARN becomes a
// dozen lines. The template must stay under CloudFormation's 51,200 bytes for a template
// body (`aws cloudformation deploy --template-file` without an S3 bucket), so each Fn::Join
// with a string separator is written as the equivalent Fn::Sub: strings, Refs and Fn::GetAtts
// go into its string, any other part (an Fn::If) into its variables as P1, P2, …. Nothing
// else changes; the stack test evaluates both forms and compares them.

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

const isObject = (x: Json): x is { [k: string]: Json } => x !== null && typeof x === 'object' && !Array.isArray(x)
const escape = (s: string) => s.replace(/\$\{/g, '${!')

/** The Fn::Sub string of one Fn::Join part, or undefined when it cannot be one. */
function subPart (part: Json): string | undefined {
  if (typeof part === 'string') return escape(part)
  if (!isObject(part) || Object.keys(part).length !== 1) return undefined
  if (typeof part.Ref === 'string') return '${' + part.Ref + '}'
  const att = part['Fn::GetAtt']
  if (Array.isArray(att) && att.length === 2 && typeof att[0] === 'string' && typeof att[1] === 'string') return '${' + att[0] + '.' + att[1] + '}'
  return undefined
}

export function compactJoins (node: Json): Json {
  if (Array.isArray(node)) return node.map(compactJoins)
  if (!isObject(node)) return node
  const join = node['Fn::Join']
  if (Object.keys(node).length === 1 && Array.isArray(join) && join.length === 2 && typeof join[0] === 'string' && Array.isArray(join[1])) {
    const vars: Record<string, Json> = {}
    const body = join[1].map(compactJoins).map(part => {
      const s = subPart(part)
      if (s !== undefined) return s
      const name = `P${Object.keys(vars).length + 1}`
      vars[name] = part
      return '${' + name + '}'
    }).join(escape(join[0]))
    return { 'Fn::Sub': Object.keys(vars).length ? [body, vars] : body }
  }
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, compactJoins(v)]))
}

/** One line: `{ "a": 1, "b": [2, 3] }`. */
function flat (v: Json): string {
  if (Array.isArray(v)) return v.length ? '[' + v.map(flat).join(', ') + ']' : '[]'
  if (isObject(v)) {
    const e = Object.entries(v)
    return e.length ? '{ ' + e.map(([k, x]) => JSON.stringify(k) + ': ' + flat(x)).join(', ') + ' }' : '{}'
  }
  return JSON.stringify(v)
}

/**
 * JSON with a 2-space indent in which an object or array that fits in `width` columns stays
 * on one line: about 20% smaller than JSON.stringify(v, null, 2), as easy to read, and as
 * deterministic (the order of keys is the template's).
 */
export function formatJson (v: Json, width = 120, indent = '', used = 0): string {
  const one = flat(v)
  if (v === null || typeof v !== 'object' || indent.length + used + one.length <= width) return one
  const inner = indent + '  '
  if (Array.isArray(v)) return '[\n' + v.map(x => inner + formatJson(x, width, inner, 0)).join(',\n') + '\n' + indent + ']'
  return '{\n' + Object.entries(v).map(([k, x]) => {
    const key = JSON.stringify(k) + ': '
    return inner + key + formatJson(x, width, inner, key.length)
  }).join(',\n') + '\n' + indent + '}'
}
