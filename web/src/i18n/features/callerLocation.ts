/** 主叫定位 and 服务类事务 — the caller location of 110/119/120 calls on the intake desk. */
export default {
  'zh-CN': {
    callerLocation: {
      label: '主叫定位',
      accuracy: '{source}，精度约 {metres} 米',
      source: { handset: '手机定位', base_station: '基站定位' } as Record<string, string>,
      onMap: '地图上的圆圈为主叫定位的精度范围',
    },
  },
  en: {
    callerLocation: {
      label: 'Caller location',
      accuracy: '{source}, accurate to about {metres} m',
      source: { handset: 'handset fix', base_station: 'base station' } as Record<string, string>,
      onMap: 'The circle on the map is the caller location’s accuracy',
    },
  },
}
