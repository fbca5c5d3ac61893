# The fuzz build (-DIH_FUZZ=ON; scripts/fuzz.sh drives it). Included from the top-level CMakeLists.txt, which
# returns right after: only the SDK, the host modules listed below, the shared Stripe library and
# tests/fuzz are configured, so the 2-core CI machine compiles a few dozen files instead of the whole tree.
#
# Everything is compiled with -fsanitize=fuzzer-no-link,address,undefined (UBSan not recoverable, so any UB
# is a crash libFuzzer reports with its input); the fuzz executables link with -fsanitize=fuzzer.
string(TOUPPER "${CMAKE_BUILD_TYPE}" IH_FUZZ_BUILD_TYPE_UPPER)
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "IH_FUZZ needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++-14 "
                      "-DCMAKE_C_COMPILER=clang-14, or run scripts/fuzz.sh")
endif()

set(IH_FUZZ_SANITIZERS "address,undefined")
# The build type's flags are replaced: -O1 with assertions on (nlohmann's JSON_ASSERT, Beast's BOOST_ASSERT),
# so NDEBUG stays undefined whatever CMAKE_BUILD_TYPE says.
set(CMAKE_CXX_FLAGS_${IH_FUZZ_BUILD_TYPE_UPPER} "")
set(CMAKE_C_FLAGS_${IH_FUZZ_BUILD_TYPE_UPPER} "")
add_compile_options(-O1 -fsanitize=fuzzer-no-link,${IH_FUZZ_SANITIZERS} -fno-sanitize-recover=all
                    -fno-omit-frame-pointer -gline-tables-only)
# Code under test may define IH_FUZZING to skip work that only costs time under a fuzzer; nothing does today.
add_compile_definitions(IH_FUZZING=1)

# Host modules the fuzz targets link (bottom-up, as in host/CMakeLists.txt).
# Files of other modules are compiled one by one in tests/fuzz/CMakeLists.txt (records.cpp, the router,
# Standard Webhooks signing, two files of the Stripe library) so the server and its modules stay out.
set(IH_FUZZ_HOST_MODULES common log metrics config http store vault tenancy loader isolation outbound runtime)

add_subdirectory(sdk)
add_subdirectory(host)
add_subdirectory(tests/fuzz)
