# Packaging and site files that CI cannot run for real: the Spack recipe (no Spack here) is parsed
# and its repository layout checked; the job scripts in examples/jobs are linted (they run under
# a fake scheduler in launcher_pbs_preempt / launcher_slurm_preempt).
add_test(NAME packaging_spack_recipe
  COMMAND ${SCI_INFER_PYTHON} ${PROJECT_SOURCE_DIR}/packaging/spack/check_recipe.py
          ${PROJECT_SOURCE_DIR}/packaging/spack/spack_repo/sci_infer)
set_tests_properties(packaging_spack_recipe PROPERTIES LABELS packaging)

set(_job_files aurora.pbs polaris.pbs dgx.sbatch sci_infer_job_lib.sh sci_infer_gpu_bind.sh)
find_program(SCI_INFER_SHELLCHECK shellcheck)
if(SCI_INFER_SHELLCHECK)
  add_test(NAME packaging_job_scripts_lint
    COMMAND ${SCI_INFER_SHELLCHECK} -x ${_job_files}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}/examples/jobs)
  add_test(NAME packaging_fake_scheduler_lint
    COMMAND ${SCI_INFER_SHELLCHECK} -x fake_scheduler.sh
    WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/scheduler)
  set_tests_properties(packaging_fake_scheduler_lint PROPERTIES LABELS packaging)
  # The CUDA configuration's script and the GPU check (which runs where nothing can be fixed).
  add_test(NAME packaging_device_scripts_lint
    COMMAND ${SCI_INFER_SHELLCHECK} -S warning scripts/test_cuda_config.sh scripts/test_second_config.sh
            benchmarks/device_prepare.sh benchmarks/device_check.sh
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(packaging_device_scripts_lint PROPERTIES LABELS packaging)
else()
  message(STATUS "shellcheck not found: the job scripts get only a bash -n syntax check")
  add_test(NAME packaging_job_scripts_lint
    COMMAND bash -c "for f in \"$@\"; do bash -n \"$f\" || exit 1; done" sh ${_job_files}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}/examples/jobs)
endif()
set_tests_properties(packaging_job_scripts_lint PROPERTIES LABELS packaging)
