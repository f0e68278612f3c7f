// Amounts and spans of time in words people read in a PR comment: "$0.15", "3 h 12 min".

const formats = new Map<string, Intl.NumberFormat>()

/** Two decimals in the currency's own sign; a cost under a cent says so rather than "$0.00". */
export function formatMoney (amount: number, currency: string): string {
  let f = formats.get(currency)
  if (!f) {
    f = new Intl.NumberFormat('en-US', { style: 'currency', currency, minimumFractionDigits: 2, maximumFractionDigits: 2 })
    formats.set(currency, f)
  }
  return amount > 0 && amount < 0.005 ? `< ${f.format(0.01)}` : f.format(amount)
}

/** The two largest units: "45 s", "12 min", "3 h 12 min", "2 d 4 h". */
export function formatSpan (ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s} s`
  const min = Math.floor(s / 60)
  if (min < 60) return `${min} min`
  const h = Math.floor(min / 60)
  if (h < 24) return min % 60 ? `${h} h ${min % 60} min` : `${h} h`
  const d = Math.floor(h / 24)
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`
}
