# Launcher tests: real mpiexec runs of `sci-infer run` (rank invariance, resume after SIGTERM and
# SIGKILL, every bad-input case, score/embed tasks, verify). Each script in mpi/ holds cases;
# sci_infer_launcher_test(SCRIPT CASE...) registers launcher_<CASE> for each.
find_program(SCI_INFER_MPIEXEC NAMES mpiexec.mpich mpiexec REQUIRED)
function(sci_infer_launcher_test script)
  foreach(_case ${ARGN})
    add_test(NAME launcher_${_case}
      COMMAND ${SCI_INFER_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/mpi/${script} ${_case}
              --sci-infer $<TARGET_FILE:sci-infer> --mpiexec ${SCI_INFER_MPIEXEC}
              --workdir ${CMAKE_CURRENT_BINARY_DIR}/launcher_${_case})
    set_tests_properties(launcher_${_case} PROPERTIES TIMEOUT 600 LABELS mpi)
  endforeach()
endfunction()

sci_infer_launcher_test(test_launcher.py rank_invariance signals bad_input tasks tensor_parallel)
sci_infer_launcher_test(test_model_safety.py hostile_metadata nonfinite_weights kv_budget_tp)
sci_infer_launcher_test(test_input_datasets.py ids_carried per_record_sampling input_faults)
sci_infer_launcher_test(test_options.py config_file bad_options failed_records_exit)
sci_infer_launcher_test(test_job_scripts.py pbs_preempt slurm_preempt pbs_walltime gpu_binding stop_grace)
sci_infer_launcher_test(test_resume_identity.py resume_changed_job foreign_journal resume_retries_failed verify_causes logits_tp)
sci_infer_launcher_test(test_faults.py journal_faults snapshot_faults tmpfs_enospc readonly_output input_read_fault
                        locked_output protected_paths failed_resume stop_latency no_runnable_records tp_group_faults
                        corrupt_chunk)
sci_infer_launcher_test(test_cpu_paths.py cpu_paths_same_bits cpu_path_refused verify_names_kernel_path)
sci_infer_launcher_test(test_device.py version bad_device device_recorded)
