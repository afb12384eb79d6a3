# Spack recipe for sci_infer. Copy this directory into a Spack repository as
# packages/sci-infer/package.py (`spack repo create`, then `spack install sci-infer`).
#
# UNTESTED: no Spack installation is available where this was written. It follows the Spack v0.23
# package API (language virtuals "c", "cxx", "fortran"); check it with `spack audit packages
# sci-infer` and a real install before relying on it. The `git` address is a placeholder.
from spack.package import *


class SciInfer(CMakePackage, CudaPackage):
    """Reproducible batch inference for Llama-family GGUF models on HPC systems: a C++ library
    (Kokkos kernels, oneDNN / cuBLAS GEMM, MPI) with C and Fortran APIs for in-situ use from
    simulations, and an MPI launcher reading and writing HDF5."""

    homepage = "https://example.invalid/sci_infer"
    git = "https://example.invalid/sci_infer.git"

    version("main", branch="main")

    variant("fortran", default=True, description="Build the Fortran module (use sci_infer) over the C API")
    # sci_infer runs its kernels on Kokkos' default execution space, which is fixed when Kokkos is
    # built: this variant only constrains the Kokkos dependency.
    variant(
        "kokkos_backend",
        default="openmp",
        values=("serial", "openmp", "cuda"),
        multi=False,
        description="Kokkos execution space for the transformer kernels",
    )
    variant("native", default=False, description="Tune host kernels for the build machine (-march=native)")

    depends_on("c", type="build")
    depends_on("cxx", type="build")
    depends_on("fortran", type="build", when="+fortran")
    depends_on("cmake@3.20:", type="build")

    depends_on("mpi")
    depends_on("hdf5+mpi")
    depends_on("onednn")
    depends_on("cli11")
    depends_on("catch2@2", type="test")

    depends_on("kokkos@3.6:")
    depends_on("kokkos+serial~openmp~cuda", when="kokkos_backend=serial")
    depends_on("kokkos+openmp~cuda", when="kokkos_backend=openmp")
    depends_on("kokkos+cuda+cuda_lambda+wrapper", when="kokkos_backend=cuda")
    conflicts("kokkos_backend=cuda", when="~cuda", msg="kokkos_backend=cuda needs +cuda")
    for _arch in CudaPackage.cuda_arch_values:
        depends_on(f"kokkos cuda_arch={_arch}", when=f"kokkos_backend=cuda cuda_arch={_arch}")

    # +cuda: the cuBLAS GEMM backend (libcublas, libcudart); kernels still follow kokkos_backend.
    conflicts("cuda_arch=none", when="+cuda", msg="give cuda_arch=<sm> with +cuda")

    def cmake_args(self):
        spec = self.spec
        args = [
            self.define_from_variant("SCI_INFER_CUDA", "cuda"),
            self.define_from_variant("SCI_INFER_FORTRAN", "fortran"),
            self.define_from_variant("SCI_INFER_NATIVE", "native"),
            self.define("SCI_INFER_BUILD_TESTS", self.run_tests),
            # The build pins Debian's MPICH wrappers when it finds them; use Spack's MPI instead.
            self.define("MPI_C_COMPILER", spec["mpi"].mpicc),
            self.define("MPI_CXX_COMPILER", spec["mpi"].mpicxx),
            self.define("HDF5_PREFER_PARALLEL", True),
        ]
        if spec.satisfies("+fortran"):
            args.append(self.define("MPI_Fortran_COMPILER", spec["mpi"].mpifc))
        if spec.satisfies("+cuda"):
            args.append(self.define("CMAKE_CUDA_ARCHITECTURES", spec.variants["cuda_arch"].value))
        return args

    @run_after("install")
    @on_package_attributes(run_tests=True)
    def check_install_tree(self):
        # The installed CMake package and pkg-config files are what downstream codes use.
        pkg_config = which("pkg-config") or which("pkgconf")
        if pkg_config:
            pkg_config("--exists", "sci_infer", extra_env={"PKG_CONFIG_PATH": self.prefix.lib.pkgconfig})
