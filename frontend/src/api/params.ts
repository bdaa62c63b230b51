import type { HistogramQueryDTO } from './types'

// QueryDTO field → REST query parameter. Lists repeat the parameter.
const LIST_PARAMS: [keyof HistogramQueryDTO, string][] = [
  ['categories', 'category'],
  ['actionTypes', 'action'],
  ['providers', 'provider'],
  ['userIds', 'user'],
  ['statuses', 'status'],
  ['riskLevels', 'risk'],
  ['notCategories', 'notCategory'],
  ['notActionTypes', 'notAction'],
  ['notProviders', 'notProvider'],
  ['notUserIds', 'notUser'],
  ['notStatuses', 'notStatus'],
  ['notRiskLevels', 'notRisk'],
]
const SCALAR_PARAMS: [keyof HistogramQueryDTO, string][] = [
  ['org', 'org'],
  ['since', 'since'],
  ['until', 'until'],
  ['resourceId', 'resource'],
  ['resourceIdPrefix', 'resourcePrefix'],
  ['text', 'text'],
  ['order', 'order'],
  ['limit', 'limit'],
  ['cursor', 'cursor'],
  ['timeZone', 'timeZone'], // the histogram's only
]

/** The REST API's query string for q, leaving out empty fields. */
export function queryToSearchParams(q: HistogramQueryDTO): URLSearchParams {
  const p = new URLSearchParams()
  for (const [key, name] of SCALAR_PARAMS) {
    const v = q[key]
    if (v !== undefined && v !== '' && v !== 0) p.set(name, String(v))
  }
  for (const [key, name] of LIST_PARAMS) {
    const v = q[key]
    if (Array.isArray(v)) for (const item of v) p.append(name, item)
  }
  return p
}
