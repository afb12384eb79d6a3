# GGUF reader fuzzer (libFuzzer, clang only); see test/fuzz/README.md.
if(SCI_INFER_FUZZ)
  add_subdirectory(fuzz)
endif()
