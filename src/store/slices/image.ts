/** The picture: the loaded image, why the last one was refused, and whether one is being decoded. */
import type { LoadedImage } from '../image-check.ts';
import type { GetState, SetState } from './types.ts';

export interface ImageSlice {
  image?: LoadedImage;
  /** why the last picture was refused (shown next to the drop zone), and that the previous one is still in use */
  imageError?: string;
  imageBusy: boolean;
  setImage(image: LoadedImage): void;
  setImageError(message: string | undefined): void;
  setImageBusy(busy: boolean): void;
  clearImage(): void;
}

export function createImageSlice(set: SetState, get: GetState, revokeUrl: (url: string) => void): ImageSlice {
  return {
    image: undefined,
    imageError: undefined,
    imageBusy: false,
    setImage(image) {
      const old = get().image;
      if (old && old.previewUrl !== image.previewUrl) revokeUrl(old.previewUrl);
      set({ image, imageError: undefined, imageBusy: false });
    },
    setImageError(message) {
      const kept = get().image;
      set({ imageError: message && kept ? `${message} ${keptPictureWords(kept.name)}` : message, imageBusy: false });
    },
    setImageBusy(busy) {
      set({ imageBusy: busy });
    },
    clearImage() {
      const old = get().image;
      if (old) revokeUrl(old.previewUrl);
      set({ image: undefined, imageError: undefined });
    },
  };
}

/** What a refusal adds when a picture was already loaded: that one stays. */
export function keptPictureWords(name: string): string {
  return `The previous picture, "${name}", is still the one in use.`;
}
