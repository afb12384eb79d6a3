#pragma once
// Which Kokkos this library was built with, and which device (GPU) each process runs on.
//
// Device choice (docs/architecture.md "Devices"): an explicit device index (--device N,
// EngineOptions::device, sci_infer_options.device), else SCI_INFER_DEVICE, else the process's
// node-local rank modulo the GPUs it can see, so 4 or 8 ranks per node use 4 or 8 GPUs. Indices
// count the GPUs this process sees (CUDA_VISIBLE_DEVICES applies first). A host-only Kokkos
// (Serial, OpenMP) accepts any index >= 0 and runs on the host: the provenance says "host".
#include <mpi.h>

#include <string>

namespace sci_infer {

// "Kokkos 4.6.1 Cuda/CudaSpace": the version and the default execution space / memory space the
// kernels run in. Needs no initialisation (it describes the build).
std::string kokkos_description();
// True when the kernels run on a device (Kokkos' default execution space is CUDA, HIP or SYCL).
bool kokkos_has_device();
// GPUs this process can see (0 on a host-only build, or when none is present). Needs no
// initialisation and never aborts.
int visible_device_count();

constexpr int kDeviceAuto = -1;
// "auto" (also "cpu" and "gpu", the job scripts' binding modes) -> kDeviceAuto; "N" (a decimal
// integer >= 0) -> N. Throws sci_infer::Error naming
// `what` (the option or variable) for anything else.
int parse_device(const std::string& text, const std::string& what);
// Refuses (sci_infer::Error naming `what`) a device index this process cannot use: on a device
// build an index >= visible_device_count(), or any index when no GPU is visible. kDeviceAuto is
// always accepted on a host build. Also checks SCI_INFER_DEVICE when `device` is kDeviceAuto.
void check_device(int device, const std::string& what);

// Initialises Kokkos if the caller has not (finalised at exit); safe to call repeatedly.
// `device` as above (kDeviceAuto: SCI_INFER_DEVICE, else node-local rank). With a communicator
// the node-local rank comes from MPI_Comm_split_type(MPI_COMM_TYPE_SHARED) and the call is
// collective over it; without one (MPI_COMM_NULL), Kokkos maps the local rank that the MPI
// launcher exports (or takes GPU 0). If Kokkos is already initialised on another device than an
// explicit `device`, throws sci_infer::Error.
void ensure_kokkos_initialized(int device = kDeviceAuto, MPI_Comm comm = MPI_COMM_NULL);

// The device this process runs on, for provenance: "host", or e.g. "cuda:0 NVIDIA H200 (sm_90)"
// once Kokkos is initialised ("cuda (not initialised)" before).
std::string device_description();

}  // namespace sci_infer
