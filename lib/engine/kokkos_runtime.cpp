// Kokkos initialisation on the right device, and the description of the build's Kokkos
// (sci_infer/device.hpp).
#include <Kokkos_Core.hpp>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <string>
#include <type_traits>

#if defined(KOKKOS_ENABLE_CUDA)
#include <cuda_runtime.h>
#elif defined(KOKKOS_ENABLE_HIP)
#include <hip/hip_runtime.h>
#endif

#include "sci_infer/device.hpp"
#include "sci_infer/error.hpp"

namespace sci_infer {

namespace {

constexpr const char* kDeviceEnv = "SCI_INFER_DEVICE";

std::string prefix(const std::string& what) { return what.empty() ? std::string() : what + ": "; }

// The rank of this process among the ranks of `comm` on its node (collective over comm).
int node_local_rank(MPI_Comm comm) {
  MPI_Comm node = MPI_COMM_NULL;
  int rank = 0, local = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
  MPI_Comm_rank(node, &local);
  MPI_Comm_free(&node);
  return local;
}

// SCI_INFER_DEVICE, parsed (kDeviceAuto when unset or empty).
int device_from_environment() {
  const char* v = std::getenv(kDeviceEnv);
  if (v == nullptr || *v == '\0') return kDeviceAuto;
  return parse_device(v, std::string(kDeviceEnv) + "=" + v);
}

// The CUDA/HIP device ordinal the initialised default execution space runs on.
int initialised_device() {
#if defined(KOKKOS_ENABLE_CUDA)
  return Kokkos::Cuda().cuda_device();
#elif defined(KOKKOS_ENABLE_HIP)
  return Kokkos::HIP().hip_device();
#elif KOKKOS_VERSION >= 40100
  return Kokkos::device_id();
#else
  return -1;
#endif
}

void initialise(int device) {
#if KOKKOS_VERSION >= 30700
  Kokkos::InitializationSettings settings;
  if (device >= 0) settings.set_device_id(device);
  Kokkos::initialize(settings);
#else
  Kokkos::InitArguments args;
  if (device >= 0) args.device_id = device;
  Kokkos::initialize(args);
#endif
}

}  // namespace

std::string kokkos_description() {
  const int v = KOKKOS_VERSION;
  // Memory spaces name themselves "Host", "Cuda", "CudaUVM": say HostSpace, CudaSpace, ... (the
  // C++ type names, the words users know).
  std::string mem = Kokkos::DefaultExecutionSpace::memory_space::name();
  if (mem.size() < 5 || mem.compare(mem.size() - 5, 5, "Space") != 0) mem += "Space";
  return "Kokkos " + std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100) +
         " " + Kokkos::DefaultExecutionSpace::name() + "/" + mem;
}

bool kokkos_has_device() {
  return !std::is_same_v<Kokkos::DefaultExecutionSpace, Kokkos::DefaultHostExecutionSpace>;
}

int visible_device_count() {
  int n = 0;
#if defined(KOKKOS_ENABLE_CUDA)
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // no driver or no device: clear the error, report none
    n = 0;
  }
#elif defined(KOKKOS_ENABLE_HIP)
  if (hipGetDeviceCount(&n) != hipSuccess) n = 0;
#else
  // SYCL and the other device backends are not supported yet (README): Kokkos checks the index.
  n = kokkos_has_device() ? -1 : 0;
#endif
  return n;
}

int parse_device(const std::string& text, const std::string& what) {
  // "cpu" / "gpu" are the job scripts' binding modes (examples/jobs: SCI_INFER_DEVICE=gpu binds one
  // GPU per rank first): the build decides where the kernels run, so both mean "auto" here.
  if (text == "auto" || text == "gpu" || text == "cpu") return kDeviceAuto;
  const char* s = text.c_str();
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(s, &end, 10);
  if (text.empty() || end == s || *end != '\0' || errno == ERANGE || v < 0 || v > 1000000 || text[0] == '+' ||
      text[0] == '-' || text[0] == ' ')
    throw Error(prefix(what) + "'" + text + "' is not a device: give 'auto' or a GPU index >= 0");
  return static_cast<int>(v);
}

void check_device(int device, const std::string& what) {
  std::string source = what;
  if (device == kDeviceAuto) {
    device = device_from_environment();
    source = std::string(kDeviceEnv) + "=" + (std::getenv(kDeviceEnv) ? std::getenv(kDeviceEnv) : "");
  }
  if (device < kDeviceAuto) throw Error(prefix(what) + std::to_string(device) + " is not a device: give -1 (auto) or a GPU index >= 0");
  if (!kokkos_has_device()) return;  // host build: any index is accepted and the kernels run on the host
  const int n = visible_device_count();
  if (n == 0)
    throw Error(std::string("this build runs its kernels on ") + Kokkos::DefaultExecutionSpace::name() +
                " devices (" + kokkos_description() + ") but this process sees no GPU (CUDA_VISIBLE_DEVICES=" +
                (std::getenv("CUDA_VISIBLE_DEVICES") ? std::getenv("CUDA_VISIBLE_DEVICES") : "unset") + ")");
  if (device >= 0 && n > 0 && device >= n)
    throw Error(prefix(source) + "device " + std::to_string(device) + " is out of range: this process sees " +
                std::to_string(n) + " GPU(s), indices 0.." + std::to_string(n - 1));
}

void ensure_kokkos_initialized(int device, MPI_Comm comm) {
  // First, before anything that can fail on one rank only: the collective split.
  const int local = comm != MPI_COMM_NULL ? node_local_rank(comm) : -1;
  if (device == kDeviceAuto) device = device_from_environment();
  if (Kokkos::is_initialized()) {
    // The caller (or an earlier engine) chose; an explicit different choice cannot be honoured.
    if (device >= 0 && kokkos_has_device() && initialised_device() >= 0 && initialised_device() != device)
      throw Error("Kokkos is already initialised on device " + std::to_string(initialised_device()) + ", not on the " +
                  "requested device " + std::to_string(device) + " (one device per process)");
    return;
  }
  if (kokkos_has_device()) {
    check_device(device, "device");
    const int n = visible_device_count();
    if (device == kDeviceAuto && local >= 0 && n > 0) device = local % n;
    initialise(device);
  } else {
    initialise(kDeviceAuto);  // host: the index is accepted and recorded as "host"
  }
  std::atexit([] {
    if (Kokkos::is_initialized()) Kokkos::finalize();
  });
}

std::string device_description() {
  if (!kokkos_has_device()) return "host";
  std::string space = Kokkos::DefaultExecutionSpace::name();
  for (char& c : space) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!Kokkos::is_initialized()) return space + " (not initialised)";
  const int dev = initialised_device();
  std::string out = space + ":" + std::to_string(dev);
#if defined(KOKKOS_ENABLE_CUDA)
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, dev) == cudaSuccess)
    out += std::string(" ") + p.name + " (sm_" + std::to_string(p.major) + std::to_string(p.minor) + ")";
#endif
  return out;
}

}  // namespace sci_infer
