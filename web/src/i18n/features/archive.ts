/**
 * Messages of the archive (一事一档) on the incident page: the case file and its versions, the
 * evaluation after closing (总结评估) with the measured response times, and the replay (回溯);
 * the words of its timeline line and audit actions; its error codes.
 */
export default {
  'zh-CN': {
    archive: {
      title: '一事一档 · 事件档案',
      build: '生成档案',
      built: '已生成第 {version} 版档案',
      unchanged: '数据未变，仍为第 {version} 版',
      none: '尚未生成档案（归档时自动生成）',
      version: '第 {version} 版',
      docx: '纸质档（Word）',
      zip: '电子档（压缩包）',
      size: { mb: '{n} 兆字节', kb: '{n} 千字节' },
      evaluation: {
        title: '总结评估',
        afterClosing: '事件办结后可填写总结评估',
        whatHappened: '事件经过',
        wentWell: '做得好的',
        toImprove: '需改进的',
        save: '保存评估',
        saved: '总结评估已保存',
        minutes: '{n} 分钟',
      },
      measure: {
        to_verify: '接报至核实',
        to_dispatch: '接报至首次派单',
        to_sign: '首次派单至签收',
        to_arrive: '接报至首个单位到场',
        to_first_report: '核实至首报',
        to_control: '接报至得到控制',
        to_close: '接报至办结',
      },
      replay: {
        title: '回溯',
        start: '回放处置过程',
        play: '播放',
        pause: '暂停',
        stop: '结束回放',
        report: '接报：{text}',
        arrival: '{unit} 到场',
      },
    },
    words: {
      timeline: { archive: { evaluation_saved: '总结评估（第 {version} 版）' } },
      action: { archive: { case_file_built: '生成事件档案', evaluation_saved: '保存总结评估' } },
    },
    errors: {
      incident_not_closed: '事件办结后才能填写总结评估',
      evaluation_changed: '总结评估已被他人修改，请刷新后再改',
      case_file_not_found: '没有这一版档案',
      case_file_missing: '档案文件已不在存储中，请重新生成',
    },
  },
  en: {
    archive: {
      title: 'Case file (one file per incident)',
      build: 'Build case file',
      built: 'Case file version {version} built',
      unchanged: 'Nothing changed: still version {version}',
      none: 'No case file yet (built when the incident is archived)',
      version: 'Version {version}',
      docx: 'Paper file (Word)',
      zip: 'Electronic file (zip)',
      size: { mb: '{n} MB', kb: '{n} KB' },
      evaluation: {
        title: 'Evaluation',
        afterClosing: 'The evaluation is written once the incident is closed',
        whatHappened: 'What happened',
        wentWell: 'What went well',
        toImprove: 'What to improve',
        save: 'Save evaluation',
        saved: 'Evaluation saved',
        minutes: '{n} min',
      },
      measure: {
        to_verify: 'Reported to verified',
        to_dispatch: 'Reported to first order',
        to_sign: 'First order to signed',
        to_arrive: 'Reported to first unit on scene',
        to_first_report: 'Verified to first report up',
        to_control: 'Reported to under control',
        to_close: 'Reported to closed',
      },
      replay: {
        title: 'Replay',
        start: 'Replay the response',
        play: 'Play',
        pause: 'Pause',
        stop: 'End replay',
        report: 'Report: {text}',
        arrival: '{unit} on scene',
      },
    },
    words: {
      timeline: { archive: { evaluation_saved: 'Evaluation (version {version})' } },
      action: { archive: { case_file_built: 'Case file built', evaluation_saved: 'Evaluation saved' } },
    },
    errors: {
      incident_not_closed: 'An incident is evaluated once it is closed',
      evaluation_changed: 'Someone revised the evaluation meanwhile: reload and edit again',
      case_file_not_found: 'No such case file version',
      case_file_missing: 'The case file is no longer in the file store: build it again',
    },
  },
}
