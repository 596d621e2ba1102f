// Types of the <saliency-viewer> element (saliency-viewer.js): its attributes, methods and
// events. Importing the module defines the element.
import type { ClassScore, SaliencyModel, Explanation } from './saliency.js';

export interface SaliencyViewerAttributes {
  /** A bundled model's name, or a URL of an .onnx. */
  model?: string;
  /** URL of the model's sidecar JSON. */
  sidecar?: string;
  /** A bundled image (images/...) or a URL. */
  image?: string;
  /** A method id of the catalog (default: its first). */
  method?: string;
  /** JSON of the method's parameters (catalog keys). */
  params?: string;
  /** Class index to explain (default: the top class). */
  target?: string;
  opacity?: string;
  colormap?: string;
  sign?: 'signed' | 'absolute' | 'positive';
  upsample?: 'bilinear' | 'bicubic' | 'nearest';
  outlier?: string;
  /** Comma list of built-in controls: method, opacity, topk. */
  controls?: string;
  /** Draw the CAM paper's box at this fraction of the map's maximum. */
  box?: string;
  /** "x0,y0,x1,y1" in input pixels: draw it and play the pointing game. */
  truth?: string;
  /** Draw the heatmap this many pixels wide. */
  resolution?: string;
}

export interface SaliencyViewerEventMap extends HTMLElementEventMap {
  prediction: CustomEvent<ClassScore[]>;
  explained: CustomEvent<{ target: number; score: number; seconds: number; [more: string]: unknown }>;
  localized: CustomEvent<Record<string, unknown>>;
  error: CustomEvent<string> & ErrorEvent;
}

export class SaliencyViewerElement extends HTMLElement {
  /** The element's model and input (the JS API's SaliencyModel); null before it loads. */
  readonly model: SaliencyModel | null;
  /** The explanation on screen; null before the first. */
  readonly explanation: Explanation | null;
  /** The report of the explanation on screen. */
  readonly lastMeta: { target: number; score: number; seconds: number; [more: string]: unknown } | null;
  channelMaps(): Promise<{ shape: number[]; weights: number[]; layer: string; data: Float32Array }>;
  curves(options?: { steps?: number; score?: 'probability' | 'logit' }): Promise<Record<string, unknown>>;
  sanityCheck(options?: { stages?: number; seed?: number }): Promise<{ meta: Record<string, unknown>; images: Uint8Array[]; width: number; height: number }>;
  /** Classifies image bytes (PNG/JPEG) and explains them. */
  useImageBytes(bytes: Uint8Array, explain?: boolean): Promise<void>;
  addEventListener<K extends keyof SaliencyViewerEventMap>(type: K, listener: (this: SaliencyViewerElement, ev: SaliencyViewerEventMap[K]) => unknown, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
}

declare global {
  interface HTMLElementTagNameMap {
    'saliency-viewer': SaliencyViewerElement;
  }
}
