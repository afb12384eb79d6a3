"""Stand-in for Hugging Face transformers (not packaged in Debian) so that llama.cpp's
convert_hf_to_gguf.py can be imported: its one module-level use, AutoConfig.from_pretrained,
raises here and the converter then reads config.json itself (its documented fallback). Any other
use (AutoTokenizer) fails loudly: for byte-level BPE vocabularies, convert.py --bpe-pre replaces
the one converter function that calls it (TextModel.get_vocab_base)."""


class AutoConfig:
    @staticmethod
    def from_pretrained(*args, **kwargs):
        raise RuntimeError("transformers stub: read config.json instead")


class AutoTokenizer:
    @staticmethod
    def from_pretrained(*args, **kwargs):
        raise RuntimeError("transformers stub: AutoTokenizer is not available")
