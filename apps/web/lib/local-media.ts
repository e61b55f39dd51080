import { CAMERA_CAPTURE } from '@group-room/shared';

/** What the browser allowed: a stream (if any), and what to tell the person when it is less than a camera and a microphone. */
export interface LocalDevices {
  stream?: MediaStream;
  warning?: string;
}

/** Ask for camera and microphone, falling back to whatever the browser allows. */
export async function openCameraAndMicrophone(): Promise<LocalDevices> {
  if (typeof navigator === 'undefined' || !navigator.mediaDevices?.getUserMedia) {
    return { warning: 'This browser cannot use a camera or microphone here: you can watch and listen only.' };
  }
  // The size the server takes as the full simulcast layer's.
  const video = { width: { ideal: CAMERA_CAPTURE.width }, height: { ideal: CAMERA_CAPTURE.height }, frameRate: { ideal: CAMERA_CAPTURE.frameRate } };
  const attempts: [MediaStreamConstraints, string | undefined][] = [
    [{ audio: true, video }, undefined],
    [{ audio: true }, 'No camera is available: others will hear you but not see you.'],
    [{ video }, 'No microphone is available: others will see you but not hear you.'],
  ];
  for (const [constraints, warning] of attempts) {
    try {
      return { stream: await navigator.mediaDevices.getUserMedia(constraints), warning };
    } catch {
      // try the next, smaller request
    }
  }
  return { warning: 'Camera and microphone are blocked: you can watch and listen only.' };
}
