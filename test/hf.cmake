# Hugging Face checkpoint directories (docs/hf-checkpoints.md): random checkpoints written with
# numpy (test/hf/make_hf_checkpoint.py), converted by llama.cpp's own convert_hf_to_gguf.py
# (test/hf/convert.py: needs python3-torch, python3-sentencepiece, python3-tqdm and the peer's
# llama.cpp tree), then sci_infer on the directory against the converted file and llama.cpp.
add_executable(hf_compare_view ${CMAKE_CURRENT_SOURCE_DIR}/hf/compare_view.cpp)
target_link_libraries(hf_compare_view PRIVATE sci_infer)
target_include_directories(hf_compare_view PRIVATE ${PROJECT_SOURCE_DIR}/lib)

set(_hf_work ${CMAKE_CURRENT_BINARY_DIR}/hf)
file(MAKE_DIRECTORY ${_hf_work})
function(sci_infer_hf_test case need)
  set(_gate "")
  set(_labels hf)
  if(NOT need STREQUAL "none")
    set(_gate bash ${CMAKE_CURRENT_SOURCE_DIR}/peer/peer_gate.sh ${SCI_INFER_PEER_DIR} ${need} --)
    list(APPEND _labels peer)
  endif()
  add_test(NAME hf_${case}
    COMMAND ${_gate} /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/hf/test_hf_checkpoint.py ${case}
            --sci-infer $<TARGET_FILE:sci-infer> --compare-view $<TARGET_FILE:hf_compare_view> --workdir ${_hf_work}
    WORKING_DIRECTORY ${_hf_work})
  set_tests_properties(hf_${case} PROPERTIES LABELS "${_labels}" TIMEOUT 300 SKIP_RETURN_CODE 77)
endfunction()
sci_infer_hf_test(errors none)
sci_infer_hf_test(f32_single logits,gguf-py)
sci_infer_hf_test(bf16_sharded logits,gguf-py)
sci_infer_hf_test(gemma2 logits,gguf-py)
sci_infer_hf_test(qwen2 logits,gguf-py)
sci_infer_hf_test(run_verify none)
sci_infer_hf_test(qwen3 logits,gguf-py)
sci_infer_hf_test(gemma3 logits,gguf-py)
sci_infer_hf_test(gemma3_trim logits,gguf-py)
sci_infer_hf_test(gpt_oss logits,gguf-py)
sci_infer_hf_test(gpt_oss_bf16 logits,gguf-py)
