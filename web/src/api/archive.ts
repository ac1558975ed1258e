/**
 * The archive's calls (一事一档): an incident's case-file versions and downloads, its
 * evaluation (总结评估) and its replay (回溯). Types come from the generated OpenAPI schema.
 */
import { api, buildUrl } from '@/api/client'
import type { components } from '@/api/schema'

type S = components['schemas']
export type CaseFile = S['CaseFileRead']
export type CaseFileBuilt = S['CaseFileBuilt']
export type Evaluation = S['EvaluationRead']
export type EvaluationWrite = S['EvaluationIn']
export type Replay = S['ReplayRead']
export type ReplayFrame = S['ReplayFrame']

const base = (id: string) => `/incidents/${encodeURIComponent(id)}`

export const archiveApi = {
  caseFiles: (id: string, signal?: AbortSignal) =>
    api.get<CaseFile[]>(`${base(id)}/case-files`, undefined, { signal }),
  build: (id: string) => api.post<CaseFileBuilt>(`${base(id)}/case-file`, {}),
  /** Where the browser downloads a version (same-origin, with the session cookie). */
  downloadUrl: (id: string, version: number, ext: 'docx' | 'zip') =>
    buildUrl(`${base(id)}/case-files/${version}.${ext}`),
  evaluation: (id: string, signal?: AbortSignal) =>
    api.get<Evaluation | null>(`${base(id)}/evaluation`, undefined, { signal }),
  saveEvaluation: (id: string, body: EvaluationWrite) => api.put<Evaluation>(`${base(id)}/evaluation`, body),
  replay: (id: string, signal?: AbortSignal) => api.get<Replay>(`${base(id)}/replay`, undefined, { signal }),
}
