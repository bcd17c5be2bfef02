// @ts-check
// The room page's technical check (kiểm tra kỹ thuật). The server tells the
// page to run it (a `check` message on its WebSocket: an operator started it,
// or the room joined within the hour before the meeting); the page then
// measures for `seconds`, from what its own connection already carries:
//   - link: RTT of the nominated ICE pair, loss and jitter of what it
//     receives, up- and downstream throughput from the byte counters;
//   - camera: frames encoded and the resolution sent;
//   - microphone: the loudest level the sender's media source heard;
// then plays a test tone, asks the room whether it heard it and asks the
// technician to confirm, and reports the figures to the server
// (POST /api/v1/meetings/{id}/checks through room.js's api(), the room's own token). A first report
// goes as soon as the figures are in, so the board shows them before anyone
// answers. A page whose connection never came up says so in Vietnamese
// (the network blocks UDP or the media port) instead of waiting.
//
// Mounted by room.js, which lends its peer connection, local stream, api()
// and the current language.
const SAMPLE_MS = 250;
// A check told right after joining waits this long for the media
// connection (ICE and DTLS take a second or two; a network that blocks
// UDP never gets there, and the check then says so).
const CONNECT_WAIT_MS = 15000;
const TONE_HZ = 880;
const TONE_MS = 1500;

const TEXT = {
  vi: {
    title: 'Kiểm tra kỹ thuật',
    measuring: 'Đang đo đường truyền, camera, micrô… ({s} giây)',
    no_link: 'Không kết nối được máy chủ hội nghị: mạng có thể chặn UDP hoặc cổng truyền hình ảnh.',
    tone: 'Vừa phát tiếng thử ra loa. Điểm cầu có nghe thấy không?',
    heard: 'Nghe rõ',
    not_heard: 'Không nghe thấy',
    confirm: 'Kỹ thuật viên xác nhận sẵn sàng',
    done: 'Đã kiểm tra xong.',
    sending: 'Đang gửi kết quả…',
    sent: 'Kết quả: {label}',
    failed_send: 'Không gửi được kết quả: {why}',
    close: 'Đóng',
    rtt: 'Độ trễ',
    loss: 'Mất gói',
    up: 'Gửi',
    down: 'Nhận',
    camera: 'Camera',
    mic: 'Micrô',
    none: 'không có',
  },
  en: {
    title: 'Technical check',
    measuring: 'Measuring the link, camera and microphone… ({s} seconds)',
    no_link: 'Could not reach the conference server: the network may block UDP or the media port.',
    tone: 'A test tone just played. Did the room hear it?',
    heard: 'Heard it',
    not_heard: 'Did not hear it',
    confirm: 'Technician confirms ready',
    done: 'Check done.',
    sending: 'Sending the result…',
    sent: 'Result: {label}',
    failed_send: 'Could not send the result: {why}',
    close: 'Close',
    rtt: 'RTT',
    loss: 'Loss',
    up: 'Up',
    down: 'Down',
    camera: 'Camera',
    mic: 'Microphone',
    none: 'none',
  },
};

// What one getStats() says, summed over streams.
async function sample(pc) {
  const out = { rtt: null, tcp: false, recv: 0, lost: 0, jitter: null, bytesIn: 0, bytesOut: 0, frames: 0, width: 0, height: 0, level: null };
  if (!pc) return out;
  const rep = await pc.getStats();
  const all = new Map();
  rep.forEach((r) => all.set(r.id, r));
  let topHeight = -1;
  // The pair in use: the transport names it; else the nominated one.
  let pairId = null;
  rep.forEach((r) => {
    if (r.type === 'transport' && r.selectedCandidatePairId) pairId = r.selectedCandidatePairId;
  });
  let rtcpRtt = null;
  rep.forEach((r) => {
    const inUse = r.type === 'candidate-pair' && (pairId ? r.id === pairId : r.nominated && r.state === 'succeeded');
    if (inUse) {
      // The latest consent check's RTT, else the mean of all so far.
      if (typeof r.currentRoundTripTime === 'number') out.rtt = Math.round(r.currentRoundTripTime * 1000);
      else if (r.responsesReceived > 0 && typeof r.totalRoundTripTime === 'number') {
        out.rtt = Math.round((r.totalRoundTripTime / r.responsesReceived) * 1000);
      }
      const l = all.get(r.localCandidateId);
      if (l && (l.protocol === 'tcp' || l.relayProtocol === 'tcp')) out.tcp = true;
    } else if (r.type === 'remote-inbound-rtp' && typeof r.roundTripTime === 'number') {
      // From the SFU's receiver reports: the same path, measured by RTCP.
      rtcpRtt = Math.max(rtcpRtt || 0, Math.round(r.roundTripTime * 1000));
    } else if (r.type === 'inbound-rtp') {
      out.recv += r.packetsReceived || 0;
      out.lost += Math.max(0, r.packetsLost || 0);
      out.bytesIn += r.bytesReceived || 0;
      if (typeof r.jitter === 'number') out.jitter = Math.max(out.jitter || 0, Math.round(r.jitter * 1000));
    } else if (r.type === 'outbound-rtp') {
      out.bytesOut += r.bytesSent || 0;
      // Simulcast: the top layer's frames and size are the camera's.
      if (r.kind === 'video' && (r.frameHeight || 0) >= topHeight) {
        topHeight = r.frameHeight || 0;
        out.frames = r.framesEncoded || 0;
        out.width = r.frameWidth || 0;
        out.height = topHeight;
      }
    } else if (r.type === 'media-source' && r.kind === 'audio' && typeof r.audioLevel === 'number') {
      out.level = Math.max(out.level || 0, r.audioLevel);
    }
  });
  if (out.rtt == null) out.rtt = rtcpRtt;
  return out;
}

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

function playTone() {
  try {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    const ctx = new Ctx();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = TONE_HZ;
    gain.gain.value = 0.2;
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    setTimeout(() => {
      osc.stop();
      ctx.close();
    }, TONE_MS);
    return true;
  } catch (_) {
    return false;
  }
}

let running = false;

export async function run(env) {
  if (running) return;
  running = true;
  const T = TEXT[env.lang()] || TEXT.vi;
  const fmt = (s, v) => s.replace(/\{(\w+)\}/g, (_, k) => (v[k] == null ? '' : String(v[k])));
  const panel = document.getElementById('check-panel');
  const status = document.getElementById('check-status');
  const figs = document.getElementById('check-figures');
  const answers = document.getElementById('check-answers');
  const result = document.getElementById('check-result');
  document.getElementById('check-title').textContent = T.title;
  panel.hidden = false;
  panel.dataset.state = 'measuring';
  answers.hidden = true;
  result.textContent = '';
  figs.textContent = '';
  const seconds = Math.max(3, Math.min(60, env.seconds || 10));
  status.textContent = fmt(T.measuring, { s: seconds });
  const report = { tcp: false, technician_confirmed: false, problems: [] };
  try {
    const connected = () => env.pc() && env.pc().connectionState === 'connected';
    const until = Date.now() + CONNECT_WAIT_MS;
    while (!connected() && Date.now() < until) await sleep(SAMPLE_MS);
    const pc = env.pc();
    const up = connected();
    const first = await sample(up ? pc : null);
    let level = first.level;
    const end = Date.now() + seconds * 1000;
    let last = first;
    while (Date.now() < end) {
      await sleep(SAMPLE_MS);
      const prev = last;
      last = await sample(up ? env.pc() : null);
      if (last.rtt == null) last.rtt = prev.rtt;
      if (last.level != null) level = Math.max(level || 0, last.level);
    }
    if (!up) {
      report.problems.push('udp: no media connection to the server');
      status.textContent = T.no_link;
    } else {
      const secs = seconds;
      const recv = last.recv - first.recv;
      const lost = last.lost - first.lost;
      if (last.rtt != null) report.rtt_ms = Math.min(60000, last.rtt);
      if (recv + lost > 0) report.loss_percent = Math.round((1000 * lost) / (recv + lost)) / 10;
      if (last.jitter != null) report.jitter_ms = Math.min(60000, last.jitter);
      report.up_kbps = Math.round(((last.bytesOut - first.bytesOut) * 8) / secs / 1000);
      report.down_kbps = Math.round(((last.bytesIn - first.bytesIn) * 8) / secs / 1000);
      report.tcp = last.tcp;
    }
    const stream = env.stream();
    const video = stream && stream.getVideoTracks()[0];
    const frames = last.frames - first.frames;
    if (video && video.readyState === 'live' && frames > 0) {
      report.camera_frames = Math.min(100000, frames);
      const s = video.getSettings ? video.getSettings() : {};
      const w = last.width || s.width || 0;
      const h = last.height || s.height || 0;
      if (w > 0 && h > 0) {
        report.camera_width = Math.min(8192, w);
        report.camera_height = Math.min(8192, h);
      }
    } else if (!video || video.readyState !== 'live') {
      report.problems.push('no camera');
    } else {
      report.camera_frames = 0;
    }
    const audio = stream && stream.getAudioTracks()[0];
    if (audio && audio.readyState === 'live') report.mic_level = Math.min(1, Math.max(0, level || 0));
    else report.problems.push('no microphone');
  } catch (e) {
    report.problems.push(String(e && e.message ? e.message : e).slice(0, 300));
  }
  figs.textContent = [
    T.rtt + ': ' + (report.rtt_ms != null ? report.rtt_ms + ' ms' : '—'),
    T.loss + ': ' + (report.loss_percent != null ? report.loss_percent + ' %' : '—'),
    T.up + '/' + T.down + ': ' + (report.up_kbps ?? '—') + '/' + (report.down_kbps ?? '—') + ' kbit/s',
    T.camera + ': ' + (report.camera_width ? report.camera_width + '×' + report.camera_height : T.none),
    T.mic + ': ' + (report.mic_level != null ? report.mic_level.toFixed(3) : T.none),
  ].join(' · ');
  panel.dataset.state = 'asking';
  const send = async () => {
    result.textContent = T.sending;
    try {
      const r = await env.api('POST', '/checks', report);
      panel.dataset.status = r.status;
      result.textContent = fmt(T.sent, { label: r.status_label }) +
        (r.failing && r.failing.length ? ' — ' + r.failing.map((f) => f.reason).join('; ') : '');
    } catch (e) {
      panel.dataset.status = 'error';
      result.textContent = fmt(T.failed_send, { why: e.message || e.code || String(e) });
    }
  };
  await send();
  playTone();
  status.textContent = T.tone;
  answers.hidden = false;
  const heard = document.getElementById('check-heard');
  const notHeard = document.getElementById('check-not-heard');
  const confirm = document.getElementById('check-confirm');
  heard.textContent = T.heard;
  notHeard.textContent = T.not_heard;
  confirm.textContent = T.confirm;
  heard.onclick = () => {
    report.speaker_heard = true;
    heard.setAttribute('aria-pressed', 'true');
    notHeard.setAttribute('aria-pressed', 'false');
  };
  notHeard.onclick = () => {
    report.speaker_heard = false;
    notHeard.setAttribute('aria-pressed', 'true');
    heard.setAttribute('aria-pressed', 'false');
  };
  heard.setAttribute('aria-pressed', 'false');
  notHeard.setAttribute('aria-pressed', 'false');
  confirm.onclick = async () => {
    report.technician_confirmed = true;
    answers.hidden = true;
    status.textContent = T.done;
    await send();
    panel.dataset.state = 'done';
    running = false;
  };
  document.getElementById('check-close').textContent = T.close;
  document.getElementById('check-close').onclick = () => {
    panel.hidden = true;
    running = false;
  };
}

export { run as runCheck };

/** @returns {boolean} whether a check runs now */
export function isRunning() {
  return running;
}
