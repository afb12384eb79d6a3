# The CUDA (cuBLAS) backend must at least compile on machines without a GPU. Running it needs a
# GPU: test/gpu/run_on_device.sh (results in benchmarks/results/gpu_linear_check_h100.txt).
find_program(SCI_INFER_NVCC nvcc PATHS /usr/local/cuda/bin)
if(SCI_INFER_NVCC)
  add_test(NAME cuda_cublas_backend_compiles
    COMMAND ${SCI_INFER_NVCC} -std=c++17 -arch=sm_90 --fmad=false -I${PROJECT_SOURCE_DIR}/include
            -I${PROJECT_SOURCE_DIR}/lib -I${PROJECT_BINARY_DIR}/lib/generated -DSCI_INFER_HAVE_CUDA=1
            -c ${PROJECT_SOURCE_DIR}/lib/kernels/linear_cublas.cu -o ${CMAKE_CURRENT_BINARY_DIR}/linear_cublas.o)
  set_tests_properties(cuda_cublas_backend_compiles PROPERTIES LABELS cuda TIMEOUT 300)
endif()
