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
}

export class SaliencyModel {
  readonly info: ModelInfo;
  /** Classifies PNG/JPEG bytes or a .npy tensor and keeps it as the input to explain. */
  setInput(bytes: ArrayBuffer | Uint8Array | Blob, options?: { k?: number }): Promise<{
    top: ClassScore[]; seconds: number; view: { rgba: Uint8Array; width: number; height: number };
  }>;
  explain(options: ExplainOptions): Promise<Explanation>;
  dispose(): Promise<void>;
}

export class Explanation {
  readonly method: string;
  readonly shape: number[];
  readonly data: Float32Array;
  readonly meta: { target: number; score: number; seconds: number; [more: string]: unknown };
  render(options?: Display & { width?: number; height?: number }): Promise<RenderedMap>;
  curves(options?: { kinds?: Array<'deletion' | 'insertion'>; steps?: number; score?: 'probability' | 'logit' }): Promise<Record<string, unknown>>;
  localize(options?: { threshold?: number; truth?: [number, number, number, number] | null; tolerance?: number }): Promise<Record<string, unknown>>;
  npy(): Promise<Uint8Array>;
}
