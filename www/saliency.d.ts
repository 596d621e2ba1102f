// Types of the saliency viewer's JS API (saliency.js). Checked by tests/browser/package.test.mjs
// with `tsc --noEmit` on an example that uses every export.

/** Error kinds of the library: an Error's `name` is one of these. */
export type ErrorKind =
  | 'io' | 'corrupt-model' | 'unsupported-operator' | 'shape' | 'image' | 'sidecar' | 'parameter'
  | 'limit' | 'non-finite' | 'npy' | 'runtime' | 'Error';

/** One parameter of a method, as the library describes it (Rust's `saliency::catalog`). */
export interface CatalogParam {
  key: string;
  label: string;
  type: 'int' | 'float' | 'choice' | 'layer' | 'tensor' | 'rules';
  help: string;
  unit?: string;
  /** Shown (and sent) only when parameter [0] has the value [1]. */
  show_if?: [string, string];
  default?: number | string | null | Array<[string, string]>;
  min?: number | null;
  max?: number | null;
  step?: number;
  log?: boolean;
  required?: boolean;
  /** Each unit costs one gradient (IG's steps, SmoothGrad's samples). */
  gradients?: boolean;
  options?: Array<{ value: string; label: string; params?: CatalogParam[] }>;
}

export interface DisplayDefaults { sign: 'signed' | 'absolute' | 'positive'; colormap: string; outlier_percent: number }

export interface MethodDescription {
  id: string;
  label: string;
  signed: boolean;
  display: DisplayDefaults;
  params: CatalogParam[];
}

export interface Catalog {
  methods: MethodDescription[];
  lrp_rules: Array<{ name: string; params: Array<{ label: string; default: number }>; note?: string }>;
  lrp_default_rule: string;
  open_with: string[];
  display: {
    colormaps: string[]; signs: string[]; reduce: string[]; upsample: string[];
    colormap_signed: string; colormap_unsigned: string; opacity: number;
  };
}

/** The methods' description: ids, labels, parameters with defaults, ranges and options. */
export function catalog(): Promise<Catalog>;

export interface LoadOptions {
  /** The .onnx (its `.onnx.data`, if any, is fetched from beside it). */
  url?: string | URL;
  /** The .onnx's bytes (self-contained). */
  bytes?: ArrayBuffer | Uint8Array | Blob;
  /** The .onnx with its external data files, as a user picks or drops them. */
  files?: ArrayLike<File | (Blob & { name: string })>;
  /** A URL, a File, JSON text or an object (docs/conventions.md, "Sidecar"). */
  sidecar?: string | URL | Blob | object | null;
  /** The download's progress, 0 to 1. */
  onProgress?: (fraction: number) => void;
}

export interface ClassScore { index: number; label: string; probability: number; logit: number }

export interface ModelInfo {
  name: string;
  title: string;
  input_shape: number[];
  classes: number;
  labels: string[];
  spatial_layers: Array<{ index: number; name: string; op_type: string; output: string; shape: number[] | null }>;
  cam_layer: string | null;
  methods: Array<{ method: string; applies: boolean; reason: string; note?: string }>;
  catalog: Catalog;
  [more: string]: unknown;
}

/** Whether explain() runs a request in chunks over the cores (IG steps, SmoothGrad samples from 16): progress and cancel. */
export function runsInChunks(request: { method: string; steps?: number; samples?: number }): boolean;

/** Loads a model in the page's worker. Rejects with an Error whose `name` is an ErrorKind. */
export function load(options: LoadOptions): Promise<SaliencyModel>;

export interface Display {
  sign?: 'auto' | 'signed' | 'absolute' | 'positive';
  colormap?: string;
  outlier_percent?: number | 'auto';
  upsample?: 'bilinear' | 'bicubic' | 'nearest';
  reduce?: 'sum' | 'max-abs' | 'l2';
}

export interface RenderedMap {
  rgba: Uint8Array;
  width: number;
  height: number;
  legend: { vmin: number; vmax: number; colormap: string; [more: string]: unknown };
  strip: Uint8Array;
}

export interface ExplainOptions {
  method: string;
  /** Request fields (docs/conventions.md, "Requests"), e.g. { steps: 32 } or { layer: '...' }. */
  params?: Record<string, unknown>;
  /** The class to explain; default the top class. */
  target?: number | null;
  /** Where the attribution is kept: an explanation under the same key replaces the previous one (default: a new key). */
  key?: string;
  /** Stops a chunked run (IG, SmoothGrad) after its chunks in flight; it then rejects with Cancelled. */
  signal?: AbortSignal;
  /** A chunked run's progress, 0 to 1. */
  onProgress?: (fraction: number) => void;
}

/** A run stopped by its AbortSignal (`name`: 'cancelled'). */
export class Cancelled extends Error {}

export interface ExplanationMeta { target: number; score: number; seconds: number; [more: string]: unknown }

export class SaliencyModel {
  readonly info: ModelInfo;
  /** Seconds the load took (download, checks, compilation). */
  readonly loadSeconds: number;
  /** Classifies PNG/JPEG bytes or a .npy tensor and keeps it as the input to explain. */
  setInput(bytes: ArrayBuffer | Uint8Array | Blob, options?: { k?: number }): Promise<{
    top: ClassScore[]; seconds: number; view: { rgba: Uint8Array; width: number; height: number };
  }>;
  explain(options: ExplainOptions): Promise<Explanation>;
  /** Keeps an attribution of the page's making (e.g. one explainTensor returned) for drawing and scoring. */
  keep(attribution: { shape: number[]; data: ArrayLike<number>; meta: object; method: string }, options?: { key?: string }): Promise<Explanation>;
  /** Class scores, and with a request one explanation's values, for an input tensor in the model's layout; nothing is kept. */
  explainTensor(tensor: ArrayLike<number>, request?: Record<string, unknown> | null): Promise<{ logits: number[]; shape?: number[]; data?: Float32Array; meta?: ExplanationMeta }>;
  /** The current input as the model sees it. */
  input(): Promise<{ shape: number[]; data: Float32Array }>;
  /** A float32/float64 .npy's values, checked against the input's size. */
  readNpy(bytes: ArrayBuffer | Uint8Array): Promise<Float32Array>;
  /** The same function with weight layers `layer`, `layer + 1` rescaled by `factor` and 1/`factor`, on the same input. */
  rescaled(options: { layer?: number; factor: number }): Promise<SaliencyModel>;
  dispose(): Promise<void>;
}

export class Explanation {
  readonly method: string;
  readonly key: string;
  readonly shape: number[];
  readonly meta: ExplanationMeta;
  /** The attribution's values (they stay in the worker until asked for). */
  values(): Promise<Float32Array>;
  render(options?: Display & { width?: number; height?: number }): Promise<RenderedMap>;
  curves(options?: { kinds?: Array<'deletion' | 'insertion'>; steps?: number; score?: 'probability' | 'logit'; onProgress?: (fraction: number) => void }): Promise<Record<string, unknown>>;
  localize(options?: { threshold?: number; truth?: [number, number, number, number] | { x0: number; y0: number; x1: number; y1: number } | null; tolerance?: number }): Promise<Record<string, unknown>>;
  /** CAM / Grad-CAM: the layer's activations [C, h, w] behind the map, with their weights. */
  channelMaps(): Promise<{ shape: number[]; weights: number[]; layer: string; data: Float32Array }>;
  /** Cascading randomisation (Adebayo et al.): every stage's report and its map drawn with `display`. */
  sanityCheck(options?: { stages?: number; seed?: number; display?: Display }): Promise<{ meta: Record<string, unknown>; images: Uint8Array[]; width: number; height: number }>;
  npy(): Promise<Uint8Array>;
  /** Frees the attribution in the worker. */
  forget(): Promise<boolean>;
}
