# Numerical acceptance tests: sci-infer's logits against independent references
#   numpy    test/python/reference_llama.py (float64, reads GGUF with test/python/gguf_min.py)
#   llamacpp llama.cpp through node-llama-cpp under $PEER_DIR (scripts/peer_setup.sh installs it;
#            scripts/test.sh does so before ctest). Every llamacpp test runs through
#            test/peer/peer_gate.sh: without the peer it is reported "Skipped" with the reason
#            printed, and with CI=true it FAILS instead.
# Included from test/CMakeLists.txt, which sets SCI_INFER_PYTHON and SCI_INFER_PEER_DIR (the
# default PEER_DIR; PEER_DIR set when ctest runs wins).
#   ctest -L numerics            all of them;   ctest -L numerics -LE slow   without the 100m models

set(_py_dir ${CMAKE_CURRENT_SOURCE_DIR}/python)
set(_py_work ${CMAKE_CURRENT_BINARY_DIR}/python)
file(MAKE_DIRECTORY ${_py_work})

# The reference tools checked on their own, before they judge the engine: gguf_min reads back what
# make_gguf_py.py wrote; then (needs the peer) reference_llama.py agrees with llama.cpp.
add_test(NAME numerics_selftest_gguf_min
  COMMAND ${SCI_INFER_PYTHON} ${_py_dir}/make_gguf_py.py --selftest ${_py_work}/selftest
  WORKING_DIRECTORY ${_py_work})
set(SCI_INFER_PEER_GATE bash ${CMAKE_CURRENT_SOURCE_DIR}/peer/peer_gate.sh ${SCI_INFER_PEER_DIR})
add_test(NAME numerics_selftest_reference_vs_llamacpp
  COMMAND ${SCI_INFER_PEER_GATE} logits,gguf-py --
          ${SCI_INFER_PYTHON} ${_py_dir}/make_gguf_py.py --selftest ${_py_work}/selftest_peer --peer
  WORKING_DIRECTORY ${_py_work})
set_tests_properties(numerics_selftest_gguf_min PROPERTIES LABELS "numerics" TIMEOUT 60
  FIXTURES_SETUP sci_infer_pyfiles)
set_tests_properties(numerics_selftest_reference_vs_llamacpp PROPERTIES
  LABELS "numerics;peer" TIMEOUT 120 SKIP_RETURN_CODE 77)

# numerics_<against>_<preset>_<dtype>[_untied]: sci-infer make-model makes the file in a private
# temp dir under ${_py_work}, compare_logits.py runs `sci-infer logits` and the reference.
function(sci_infer_numerics_test against preset dtype)
  cmake_parse_arguments(_t "UNTIED;SLOW" "" "" ${ARGN})
  set(_name numerics_${against}_${preset}_${dtype})
  set(_extra "")
  if(_t_UNTIED)
    set(_name ${_name}_untied)
    list(APPEND _extra --untied)
  endif()
  set(_labels numerics)
  set(_gate "")
  if(against STREQUAL "llamacpp")
    list(APPEND _labels peer)
    set(_gate ${SCI_INFER_PEER_GATE} logits --)
  endif()
  add_test(NAME ${_name}
    COMMAND ${_gate} ${SCI_INFER_PYTHON} ${_py_dir}/compare_logits.py
            --sci-infer $<TARGET_FILE:sci-infer>
            --make ${preset} --dtype ${dtype} --seed 1 ${_extra}
            --against ${against} --workdir ${_py_work}
    WORKING_DIRECTORY ${_py_work})
  set(_timeout 120)
  if(_t_SLOW)
    list(APPEND _labels slow)
    set(_timeout 300)
  endif()
  set_tests_properties(${_name} PROPERTIES LABELS "${_labels}" TIMEOUT ${_timeout} SKIP_RETURN_CODE 77)
endfunction()

sci_infer_numerics_test(numpy tiny f32)
sci_infer_numerics_test(numpy 15m f32)
sci_infer_numerics_test(numpy 15m f16)
sci_infer_numerics_test(numpy 15m q8_0)
sci_infer_numerics_test(numpy 15m bf16)
sci_infer_numerics_test(numpy 15m f32 UNTIED)

sci_infer_numerics_test(llamacpp 15m f32)
sci_infer_numerics_test(llamacpp 15m f16)
sci_infer_numerics_test(llamacpp 15m q8_0)
sci_infer_numerics_test(llamacpp 100m f32 SLOW)
sci_infer_numerics_test(llamacpp 100m f16 SLOW)
sci_infer_numerics_test(llamacpp 100m q8_0 SLOW)

# The engine on files it did not write: the GGUFs from make_gguf_py.py (another writer, other
# metadata order and extra keys), so a writer/reader bug shared by make-model and the loader shows.
foreach(_f f32 f32_untied f16 bf16 q8_0)
  add_test(NAME numerics_numpy_pyfile_${_f}
    COMMAND ${SCI_INFER_PYTHON} ${_py_dir}/compare_logits.py --sci-infer $<TARGET_FILE:sci-infer>
            --model ${_py_work}/selftest/py_${_f}.gguf --against numpy --workdir ${_py_work}
    WORKING_DIRECTORY ${_py_work})
  set_tests_properties(numerics_numpy_pyfile_${_f} PROPERTIES LABELS "numerics" TIMEOUT 60
    FIXTURES_REQUIRED sci_infer_pyfiles)
endforeach()
