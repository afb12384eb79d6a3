// Raw logits from llama.cpp (through node-llama-cpp) for a token sequence, with the KV-cache type
// chosen: llama.cpp's default F16 cache rounds K and V, which by itself moves F32 logits by ~1e-2
// on our test models; an F32 cache makes llama.cpp an F32 reference.
//   NLC=/tmp/peer/npm/node_modules/node-llama-cpp node llamacpp_logits.mjs --model M.gguf \
//       --tokens 1,2,3 --out logits.f32 [--kv-type f32|f16] [--all-positions] [--threads 2]
// (--dump-logits FILE is accepted for --out, so it drops in where node_bench.mjs is used.)
// Writes float32 little-endian, n_vocab per position (the last one, or every one).
import fs from "node:fs";
import path from "node:path";

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf("--" + name);
  if (i < 0) return def;
  const v = args[i + 1];
  return v === undefined || v.startsWith("--") ? true : v;
};
const modelPath = opt("model"), outPath = opt("out", opt("dump-logits"));  // --dump-logits: node_bench.mjs spelling
if (!modelPath || !outPath) { console.error("--model and --out are required"); process.exit(2); }
const kvType = String(opt("kv-type", "f16")).toUpperCase();  // llama.cpp's default
const allPositions = opt("all-positions", false) === true;
const threads = +opt("threads", 2);
const toks = String(opt("tokens", "1")).split(",").map(Number);
const nlc = process.env.NLC || "/tmp/peer/npm/node_modules/node-llama-cpp";
const { getLlama, LlamaLogLevel } = await import(path.join(nlc, "dist/index.js"));

const llama = await getLlama({ gpu: false, build: "never", skipDownload: true, maxThreads: threads,
                               logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath, gpuLayers: 0, useMmap: true });
// The vocabulary size: node-llama-cpp's, else <arch>.vocab_size, else the tokenizer's token count
// (qwen2, gemma* files have no vocab_size key).
const md = model.fileInfo?.metadata ?? {};
const nVocab = model.tokens?.vocabSize ?? md[md.general?.architecture]?.vocab_size ?? md.tokenizer?.ggml?.tokens?.length;
const ctx = await model.createContext({
  contextSize: Math.max(256, toks.length + 16), batchSize: Math.max(512, toks.length), sequences: 1,
  threads: { ideal: threads, min: threads }, flashAttention: false,
  experimentalKvCacheKeyType: kvType, experimentalKvCacheValueType: kvType });
const seq = ctx.getSequence();
const want = (i) => allPositions || i === toks.length - 1;
const res = await seq.controlledEvaluate(toks.map((t, i) => want(i)
  ? [t, { generateNext: { logits: true, token: true, options: { temperature: 0 } } }] : t));
const rows = toks.map((_, i) => i).filter(want);
const out = new Float32Array(rows.length * nVocab).fill(NaN);
rows.forEach((pos, r) => { for (const [tok, v] of res[pos].next.logits) out[r * nVocab + tok] = v; });
fs.writeFileSync(outPath, Buffer.from(out.buffer));
console.log(JSON.stringify({ out: outPath, kv_type: kvType, positions: rows.length, n_vocab: nVocab }));
await ctx.dispose(); await model.dispose(); await llama.dispose();
