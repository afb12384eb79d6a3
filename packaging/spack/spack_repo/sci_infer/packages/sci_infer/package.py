# Spack recipe for sci_infer (package "sci-infer"), for Spack >= 1.0 (package API v2: build
# systems come from the builtin repository, spack_repo.builtin.build_systems).
#
#   spack repo add packaging/spack/spack_repo/sci_infer
#   spack install sci-infer                                     # CPU: Kokkos OpenMP, oneDNN
#   spack install sci-infer +cuda cuda_arch=80 kokkos_backend=cuda
#   spack install sci-infer +oneapi_dnn kokkos_backend=sycl %oneapi   # NOT yet supported/tested
#
# A centre's Kokkos module (a Kokkos already built for its GPUs) is used by declaring it external
# in packages.yaml, e.g. on Polaris or Sophia (A100, sm_80 = Kokkos AMPERE80):
#   packages:
#     kokkos:
#       externals:
#       - spec: kokkos@4.6.01 +cuda +cuda_lambda +wrapper cuda_arch=80
#         prefix: /path/of/the/module      # `module show kokkos`: its CMAKE_PREFIX_PATH / Kokkos_ROOT
#       buildable: false
# and then `spack install sci-infer +cuda cuda_arch=80 kokkos_backend=cuda`: kokkos_backend picks
# which Kokkos build satisfies the dependency, cuda_arch must match the module's architecture.
#
# NOT RUN WITH SPACK: no Spack installation is available where this was written. Every package,
# variant and version named below was checked against spack/spack-packages (builtin repository,
# package API v2.2, July 2026), and the file is syntax-checked by the test packaging_spack_recipe.
# Check it with `spack audit packages sci-infer` and a real `spack install --test=root` first.
# Version bounds are what the code was built and tested with (see each line).
import os

from spack_repo.builtin.build_systems.cmake import CMakePackage
from spack_repo.builtin.build_systems.cuda import CudaPackage

from spack.package import *


class SciInfer(CMakePackage, CudaPackage):
    """Reproducible batch inference for Llama-family GGUF models on HPC systems: a C++ library
    (Kokkos kernels, oneDNN / cuBLAS GEMM, MPI) with C and Fortran APIs for in-situ use from
    simulations, and an MPI launcher reading and writing HDF5."""

    # PLACEHOLDER addresses: the project's own repository goes here. There is no public release
    # yet; when v0.1.0 is tagged, add its commit= to the version below (Spack checks it).
    homepage = "https://example.invalid/sci_infer"
    git = "https://example.invalid/sci_infer/sci_infer.git"

    version("main", branch="main")
    version("0.1.0", tag="v0.1.0")

    variant("fortran", default=True, description="Build the Fortran module (use sci_infer) over the C API")
    # sci_infer runs its kernels on Kokkos' default execution space, which is fixed when Kokkos is
    # built: this variant chooses the Kokkos build. serial and openmp are tested; cuda compiles
    # (Kokkos 4.6.01 CUDA, CUDA 13, AMPERE80 / HOPPER90) and its GPU run is prepared
    # (benchmarks/device_check.sh) but not yet recorded; sycl (Aurora) is not supported yet:
    # neither compiled nor run.
    variant(
        "kokkos_backend",
        default="openmp",
        values=("serial", "openmp", "cuda", "sycl"),
        multi=False,
        description="Kokkos execution space for the transformer kernels",
    )
    variant(
        "oneapi_dnn",
        default=False,
        description="Take oneDNN from Intel oneAPI (intel-oneapi-dnn) instead of the onednn package",
    )
    variant(
        "native",
        default=False,
        description="Compile for the build machine (-march=native; not portable; GEMM SIMD is chosen at run time anyway)",
    )

    depends_on("c", type="build")
    depends_on("cxx", type="build")
    depends_on("fortran", type="build", when="+fortran")
    depends_on("cmake@3.20:", type="build")

    depends_on("mpi")
    # Tested: HDF5 1.10.8 (Debian 12, libhdf5-mpich-dev). The code uses the 1.10 API only.
    depends_on("hdf5@1.10:1.14 +mpi")
    # lib/kernels/linear_onednn.cpp builds against the 2.x (matmul::desc) and 3.x APIs. Tested:
    # 2.6.3 (Debian 12); syntax-checked against the 3.0 and 3.9.2 headers. Spack's onednn has 2.7.3
    # and 3.0; intel-oneapi-dnn 2023.0 onward ships oneDNN 3.x.
    depends_on("onednn@2.6:3", when="~oneapi_dnn")
    depends_on("intel-oneapi-dnn@2023:", when="+oneapi_dnn")
    # Tested: CLI11 2.1.2, nlohmann-json 3.11.2, OpenSSL 3.0 (libcrypto) (Debian 12).
    depends_on("cli11@2.1:2")
    depends_on("nlohmann-json@3.10:3")
    depends_on("openssl@3:")
    # The unit tests use Catch2 v2 (Catch2::Catch2, catch_discover_tests); tested: 2.13.10.
    depends_on("catch2@2.13:2", type="test")
    depends_on("pkgconfig", type="test")

    # Kokkos: tested 3.4.01 (Debian 12, Trilinos 13.2; not in Spack, whose oldest is 3.7.02);
    # 4.6.01 OpenMP (built and tested) and CUDA (compiled, CUDA 13). Kokkos 5 requires C++20, this
    # code is C++17.
    depends_on("kokkos@3.7:4")
    depends_on("kokkos+serial~openmp~cuda~sycl", when="kokkos_backend=serial")
    depends_on("kokkos+openmp~cuda~sycl", when="kokkos_backend=openmp")
    # CUDA Kokkos compiles through nvcc_wrapper (kokkos+wrapper): this package then builds with
    # Kokkos' compiler (cmake_args). Kokkos takes exactly one cuda_arch: forward ours.
    depends_on("kokkos+cuda+cuda_lambda+wrapper", when="kokkos_backend=cuda")
    for _arch in CudaPackage.cuda_arch_values:
        depends_on(f"kokkos cuda_arch={_arch}", when=f"kokkos_backend=cuda cuda_arch={_arch}")
    conflicts("kokkos_backend=cuda", when="~cuda", msg="kokkos_backend=cuda needs +cuda cuda_arch=<sm>")
    # SYCL Kokkos (Intel GPUs) needs the oneAPI compiler for this package too.
    depends_on("kokkos+sycl~cuda", when="kokkos_backend=sycl")
    requires("%cxx=oneapi", when="kokkos_backend=sycl", msg="kokkos_backend=sycl builds with %oneapi")
    conflicts("+cuda", when="kokkos_backend=sycl", msg="the cuBLAS backend and SYCL Kokkos do not mix")

    # +cuda: the cuBLAS GEMM backend (libcublas, libcudart); the kernels follow kokkos_backend.
    conflicts("cuda_arch=none", when="+cuda", msg="give cuda_arch=<sm> with +cuda")

    def cmake_args(self):
        spec = self.spec
        args = [
            self.define_from_variant("SCI_INFER_CUDA", "cuda"),
            self.define_from_variant("SCI_INFER_FORTRAN", "fortran"),
            self.define_from_variant("SCI_INFER_NATIVE", "native"),
            self.define("SCI_INFER_BUILD_TESTS", self.run_tests),
            # The build prefers Debian's MPICH wrappers when it finds them; use Spack's MPI.
            self.define("MPI_C_COMPILER", spec["mpi"].mpicc),
            self.define("MPI_CXX_COMPILER", spec["mpi"].mpicxx),
            self.define("HDF5_PREFER_PARALLEL", True),
        ]
        if spec.satisfies("+fortran"):
            args.append(self.define("MPI_Fortran_COMPILER", spec["mpi"].mpifc))
        if spec.satisfies("+cuda"):
            # cuda_arch is multi-valued (CudaPackage): CMake wants a ;-list, e.g. "80;90".
            archs = [a for a in spec.variants["cuda_arch"].value if a != "none"]
            args.append(self.define("CMAKE_CUDA_ARCHITECTURES", ";".join(archs)))
        if spec.satisfies("kokkos_backend=cuda"):
            # nvcc_wrapper when kokkos+wrapper (the builtin kokkos package's kokkos_cxx property).
            args.append(self.define("CMAKE_CXX_COMPILER", self["kokkos"].kokkos_cxx))
        if spec.satisfies("+oneapi_dnn"):
            # oneAPI installs dnnl-config.cmake under its component directory, which CMake's
            # prefix search does not reach.
            configs = find(spec["intel-oneapi-dnn"].prefix, "dnnl-config.cmake")
            if configs:
                args.append(self.define("dnnl_DIR", os.path.dirname(configs[0])))
        return args

    @run_after("install")
    @on_package_attributes(run_tests=True)
    def check_pkg_config(self):
        # Downstream codes use the installed pkg-config files; they land in lib/ or lib64/
        # (GNUInstallDirs' choice for the platform), so find them rather than assume a path.
        pc = find(self.prefix, "sci_infer.pc")
        if not pc:
            raise InstallError(f"sci_infer.pc is not installed under {self.prefix}")
        pkg_config = which("pkg-config", "pkgconf", required=True)
        pkg_config("--exists", "--print-errors", "sci_infer",
                   extra_env={"PKG_CONFIG_PATH": os.path.dirname(pc[0])})
