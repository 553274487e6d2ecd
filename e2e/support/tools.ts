/**
 * System tools some e2e checks need, found once: ffprobe (container checks) and ffmpeg (a real MP4 for the Segmind
 * stand-in). A missing tool makes the tests that need it *skipped* with the reason (test.skip), never passed.
 */
import { execFileSync, spawnSync } from 'node:child_process';

export const FFPROBE = process.env.FFPROBE_PATH ?? 'ffprobe';
export const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg';

const runs = (cmd: string) => spawnSync(cmd, ['-version'], { stdio: 'ignore' }).status === 0;

export const hasFfprobe = runs(FFPROBE);
export const hasFfmpeg = runs(FFMPEG);

export const NO_FFPROBE = `ffprobe is not installed (apt-get install ffmpeg or set FFPROBE_PATH; tried "${FFPROBE}")`;
export const NO_FFMPEG = `ffmpeg is not installed (apt-get install ffmpeg or set FFMPEG_PATH; tried "${FFMPEG}")`;

export interface ProbeStream {
  codec_name: string;
  pix_fmt?: string;
  width: number;
  height: number;
  r_frame_rate: string;
  avg_frame_rate: string;
  nb_read_frames?: string;
}

/** The first video stream and the container of a file, as ffprobe counts them (-count_frames). */
export function ffprobe(file: string): { stream: ProbeStream; format: { format_name: string; duration: string } } {
  const out = execFileSync(
    FFPROBE,
    ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_streams', '-show_format', '-of', 'json', file],
    { encoding: 'utf8' },
  );
  const json = JSON.parse(out) as { streams: ProbeStream[]; format: { format_name: string; duration: string } };
  return { stream: json.streams[0], format: json.format };
}
