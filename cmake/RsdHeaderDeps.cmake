# Header-only dependencies: doctest (tests), CLI11 (the rsd command line), nlohmann/json (JSON
# output), toml++ (training configs). Debian packages provide them; a machine without apt (the GPU machine) gets copies of the
# headers in RSD_THIRD_PARTY_DIR (git-ignored), placed there by tools/gpu-check.sh's caller.
find_path(RSD_DOCTEST_INCLUDE doctest/doctest.h HINTS ${RSD_DOCTEST_DIR} ${RSD_THIRD_PARTY_DIR})
find_path(RSD_CLI11_INCLUDE CLI/CLI.hpp HINTS ${RSD_THIRD_PARTY_DIR})
find_path(RSD_JSON_INCLUDE nlohmann/json.hpp HINTS ${RSD_THIRD_PARTY_DIR})
find_path(RSD_TOML_INCLUDE toml++/toml.h HINTS ${RSD_THIRD_PARTY_DIR})
foreach(dep DOCTEST CLI11 JSON TOML)
  if(NOT RSD_${dep}_INCLUDE)
    message(FATAL_ERROR "rsd: ${dep} headers not found. On Debian: apt-get install doctest-dev libcli11-dev "
                        "nlohmann-json3-dev libtomlplusplus-dev; elsewhere copy the headers into ${RSD_THIRD_PARTY_DIR}")
  endif()
endforeach()
add_library(rsd_doctest INTERFACE)
target_include_directories(rsd_doctest SYSTEM INTERFACE ${RSD_DOCTEST_INCLUDE})
add_library(rsd_cli11 INTERFACE)
target_include_directories(rsd_cli11 SYSTEM INTERFACE ${RSD_CLI11_INCLUDE})
add_library(rsd_json INTERFACE)
target_include_directories(rsd_json SYSTEM INTERFACE ${RSD_JSON_INCLUDE})
add_library(rsd_toml INTERFACE)
target_include_directories(rsd_toml SYSTEM INTERFACE ${RSD_TOML_INCLUDE})
# toml++ as a header-only library (Debian also ships a compiled one; the headers alone suffice).
target_compile_definitions(rsd_toml INTERFACE TOML_HEADER_ONLY=1 TOML_EXCEPTIONS=1)
