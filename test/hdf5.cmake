# HDF5 data layer: sample outputs written by the library (a hidden unit test) are checked
# from Python with h5py, the way users read them (test/python/check_output_schema.py).
set(_hdf5_sample_dir ${CMAKE_CURRENT_BINARY_DIR}/hdf5_schema_sample)
add_test(NAME hdf5.schema_sample.write COMMAND sci_infer_unit "[schema-sample]")
set_tests_properties(hdf5.schema_sample.write PROPERTIES
  ENVIRONMENT "SCI_INFER_SCHEMA_SAMPLE_DIR=${_hdf5_sample_dir}"
  FIXTURES_SETUP hdf5_schema_sample)
add_test(NAME hdf5.schema_sample.python
  COMMAND ${SCI_INFER_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/python/check_output_schema.py
          ${_hdf5_sample_dir}/generate.h5 ${_hdf5_sample_dir}/embed.h5)
set_tests_properties(hdf5.schema_sample.python PROPERTIES FIXTURES_REQUIRED hdf5_schema_sample)
