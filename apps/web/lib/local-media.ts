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
  const video = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 24 } };
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
