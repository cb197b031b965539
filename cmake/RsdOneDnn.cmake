# oneDNN, the optimized CPU backend of the op table (engine/onednn/): Debian's libdnnl-dev. Optional:
# without it (the GPU machine, a bare system) the reference CPU kernels run, and the configure line
# says so. Sets RSD_HAVE_ONEDNN and RSD_ONEDNN_SUMMARY; the target is DNNL::dnnl.
set(RSD_ONEDNN AUTO CACHE STRING "Build the oneDNN CPU backend: AUTO (when libdnnl-dev is found), ON (required) or OFF")
set_property(CACHE RSD_ONEDNN PROPERTY STRINGS AUTO ON OFF)
set(RSD_HAVE_ONEDNN 0)
set(RSD_ONEDNN_SUMMARY "off (reference CPU kernels)")
if(NOT RSD_ONEDNN STREQUAL "OFF")
  find_package(dnnl CONFIG QUIET)
  if(dnnl_FOUND)
    set(RSD_HAVE_ONEDNN 1)
    set(RSD_ONEDNN_SUMMARY "${dnnl_VERSION}")
  elseif(RSD_ONEDNN STREQUAL "ON")
    message(FATAL_ERROR "rsd: RSD_ONEDNN=ON but oneDNN was not found. On Debian: apt-get install libdnnl-dev")
  else()
    set(RSD_ONEDNN_SUMMARY "not found (apt-get install libdnnl-dev; the reference CPU kernels run)")
  endif()
endif()
