/**
 * The matcher and the level rules explain themselves in short English phrases (stored with the
 * report and sent to every channel). The desk shows them in the user's language: the known
 * phrases are rewritten for zh-CN, category codes become names, and the adcode prefixes of the
 * gazetteer's place keys (`331126209000/官塘中心学校`) are dropped.
 */
type Rewrite = [RegExp, string]

const ZH: Rewrite[] = [
  [/^possible duplicate: /, '疑似重复：'],
  [/^two incidents score alike \(([\d.]+) vs ([\d.]+)\): /, '两个事件相似度接近（$1 与 $2）：'],
  [/^best candidate ([\d.]+) < ([\d.]+)$/, '最相近事件相似度 $1，低于 $2'],
  [/^no open incident of a related category in the window$/, '时空窗口内没有相关类别的在办事件'],
  [/^public report waits for verification$/, '公众上报，待核实'],
  [/^joined by (.+)$/, '由 $1 并入'],
  [/\bsame category\b/g, '同类别'],
  [/\brelated category\b/g, '相关类别'],
  [/\bparent category\b/g, '上下级类别'],
  [/\bcategory unknown\b/g, '类别未知'],
  [/ within ([\d.]+) m and ([\d.]+) min; text ([\d.]+)/g, '，相距 $1 米，相差 $2 分钟，文本相似度 $3'],
  [/ same village \(no point\)/g, '，同村（无坐标）'],
  [/ same town \(no point\)/g, '，同镇（无坐标）'],
  [/ no common place \(no point\)/g, '，无共同地点（无坐标）'],
  [/ and ([\d.]+) min; text ([\d.]+)/g, '，相差 $1 分钟，文本相似度 $2'],
  [/ \(both name ([^)]+)\)/g, '（均提及 $1）'],
  [/ \(places differ: ([^)]+)\)/g, '（地点不同：$1）'],
  [/\bno threshold reached\b/g, '未达到分级阈值'],
  [/\bdead\+missing\b/g, '死亡+失联'],
  [/\binjured\b/g, '受伤'],
  [/\btrapped\b/g, '被困'],
  [/\bmissing\b/g, '失联'],
  [/\bdead\b/g, '死亡'],
  [/ is below the default of (\S+)/g, '，低于「$1」的默认等级'],
  [/, default of (\S+)$/g, '，「$1」的默认等级'],
  [/ is below the default\b/g, '，低于默认等级'],
  [/, default$/g, '，默认等级'],
]

const CATEGORY_CODE = /\b([a-z_]+\.[a-z_]+)\b/g
const PLACE_KEY = /\b\d{6,12}\//g

export function explainReason(
  reason: string | null | undefined,
  locale: string,
  categoryName: (code: string) => string = (code) => code,
): string {
  if (!reason) return ''
  let text = reason.replace(PLACE_KEY, '')
  if (locale === 'zh-CN') {
    for (const [pattern, replacement] of ZH) text = text.replace(pattern, replacement)
  }
  return text.replace(CATEGORY_CODE, (code) => categoryName(code))
}
