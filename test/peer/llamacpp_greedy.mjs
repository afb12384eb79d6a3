// Greedy generation by llama.cpp (through node-llama-cpp): for each prompt text, llama.cpp's own
// tokenization (BOS + text, as sci-infer does) and the next N argmax tokens, end-of-text ignored
// (yielded, and generation continues from it).
//   NLC=/tmp/peer/npm/node_modules/node-llama-cpp node llamacpp_greedy.mjs --model M.gguf \
//       --prompts prompts.json --out greedy.json [--n 64] [--kv-type f32|f16] [--threads 2]
// prompts.json: a JSON list of strings. Writes a JSON list of {prompt_tokens: [...], tokens: [...]}.
// Flash attention off and an F32 KV cache by default, so llama.cpp keeps K and V in F32 like sci-infer.
import fs from "node:fs";
import path from "node:path";

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf("--" + name);
  return i < 0 || args[i + 1] === undefined ? def : args[i + 1];
};
const modelPath = opt("model"), outPath = opt("out"), promptsPath = opt("prompts");
if (!modelPath || !outPath || !promptsPath) { console.error("--model, --prompts and --out are required"); process.exit(2); }
const n = +opt("n", 64), threads = +opt("threads", 2);
const kvType = String(opt("kv-type", "f32")).toUpperCase();
const prompts = JSON.parse(fs.readFileSync(promptsPath, "utf8"));
const nlc = process.env.NLC || "/tmp/peer/npm/node_modules/node-llama-cpp";
const { getLlama, LlamaLogLevel } = await import(path.join(nlc, "dist/index.js"));

const llama = await getLlama({ gpu: false, build: "never", skipDownload: true, maxThreads: threads,
                               logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath, gpuLayers: 0, useMmap: true });
const results = [];
for (const text of prompts) {
  // A fresh context per prompt: nothing of one prompt's cache can leak into the next.
  const ctx = await model.createContext({
    contextSize: 256, batchSize: 256, sequences: 1, threads: { ideal: threads, min: threads },
    flashAttention: false, experimentalKvCacheKeyType: kvType, experimentalKvCacheValueType: kvType });
  const seq = ctx.getSequence();
  const promptTokens = [model.tokens.bos, ...model.tokenize(text)];
  const out = [];
  // End-of-text is yielded and generation goes on from it, as `sci-infer run --ignore-eos` does;
  // should the evaluator still stop, generation resumes by feeding the last token back.
  let input = promptTokens;
  while (out.length < n) {
    const before = out.length;
    for await (const t of seq.evaluate(input, { temperature: 0, yieldEogToken: true })) {
      out.push(t);
      if (out.length >= n) break;
    }
    if (out.length === before) break;   // nothing more comes: the length check reports it
    input = [out[out.length - 1]];
  }
  results.push({ prompt_tokens: promptTokens, tokens: out });
  await ctx.dispose();
}
fs.writeFileSync(outPath, JSON.stringify(results));
console.log(JSON.stringify({ out: outPath, prompts: prompts.length, n, kv_type: kvType }));
await model.dispose(); await llama.dispose();
