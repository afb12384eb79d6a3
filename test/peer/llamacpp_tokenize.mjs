// llama.cpp's tokenization (through node-llama-cpp) of test inputs in llama.cpp's own
// test-tokenizer-0 format: inputs separated by "\n__ggml_vocab_test__\n" in --inp, one line of
// space-separated ids per input written to --out (no BOS/EOS, special tokens not parsed).
//   NLC=/tmp/peer/npm/node_modules/node-llama-cpp node llamacpp_tokenize.mjs --model V.gguf --inp X.inp --out X.out
import fs from "node:fs";
import path from "node:path";

const args = process.argv.slice(2);
const opt = (name) => { const i = args.indexOf("--" + name); return i < 0 ? undefined : args[i + 1]; };
const modelPath = opt("model"), inp = opt("inp"), outPath = opt("out");
if (!modelPath || !inp || !outPath) { console.error("--model, --inp and --out are required"); process.exit(2); }
const nlc = process.env.NLC || "/tmp/peer/npm/node_modules/node-llama-cpp";
const { getLlama, LlamaLogLevel } = await import(path.join(nlc, "dist/index.js"));
const llama = await getLlama({ gpu: false, build: "never", skipDownload: true, logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath, gpuLayers: 0, vocabOnly: true });
const texts = fs.readFileSync(inp, "utf8").split("\n__ggml_vocab_test__\n");
const lines = texts.map((t) => " " + Array.from(model.tokenize(t, false)).join(" ") + "\n");
fs.writeFileSync(outPath, lines.join(""));
console.log(JSON.stringify({ out: outPath, inputs: texts.length }));
await model.dispose(); await llama.dispose();
