# Bpf.cmake - the BPF build pipeline:
#   each .bpf.c --clang -target bpf--> .bpf.o --bpftool gen object--> one linked object
#   --bpftool gen skeleton--> <name>.skel.h, exposed as an INTERFACE library.
#
# Kernel types come from probes/bpf/kernel_types.h (CO-RE, see docs/probes.md), never from
# the build host's running kernel, so the same build loads on any kernel with BTF.

find_program(BPF_CLANG NAMES clang clang-14 REQUIRED)
find_program(BPFTOOL NAMES bpftool HINTS /usr/sbin /sbin REQUIRED)

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
    set(BPF_TARGET_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
    set(BPF_TARGET_ARCH arm64)
else()
    set(BPF_TARGET_ARCH ${CMAKE_SYSTEM_PROCESSOR})
endif()

# Multiarch directory for <asm/types.h> used by the uapi headers.
execute_process(COMMAND ${CMAKE_C_COMPILER} -print-multiarch
                OUTPUT_VARIABLE BPF_MULTIARCH OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT BPF_MULTIARCH)
    set(BPF_MULTIARCH "${CMAKE_SYSTEM_PROCESSOR}-linux-gnu")
endif()

# policer_bpf_skeleton(<target> NAME <skeleton-name> SOURCES <a.bpf.c>... INCLUDES <dir>...)
function(policer_bpf_skeleton target)
    cmake_parse_arguments(ARG "" "NAME" "SOURCES;INCLUDES" ${ARGN})
    set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/bpf)
    file(MAKE_DIRECTORY ${out_dir})

    set(include_flags)
    foreach(dir ${ARG_INCLUDES})
        list(APPEND include_flags -I${dir})
    endforeach()

    set(objects)
    foreach(src ${ARG_SOURCES})
        get_filename_component(base ${src} NAME_WE)
        set(obj ${out_dir}/${base}.bpf.o)
        add_custom_command(
            OUTPUT ${obj}
            COMMAND ${BPF_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_${BPF_TARGET_ARCH}
                    -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
                    ${include_flags} -idirafter /usr/include/${BPF_MULTIARCH}
                    -MD -MF ${obj}.d -c ${CMAKE_CURRENT_SOURCE_DIR}/${src} -o ${obj}
            DEPENDS ${src}
            DEPFILE ${obj}.d
            COMMENT "BPF ${src}"
            VERBATIM)
        list(APPEND objects ${obj})
    endforeach()

    set(linked ${out_dir}/${ARG_NAME}.bpf.o)
    set(skel ${out_dir}/${ARG_NAME}.skel.h)
    add_custom_command(
        OUTPUT ${linked}
        COMMAND ${BPFTOOL} gen object ${linked} ${objects}
        DEPENDS ${objects}
        COMMENT "BPF link ${ARG_NAME}.bpf.o"
        VERBATIM)
    add_custom_command(
        OUTPUT ${skel}
        COMMAND ${BPFTOOL} gen skeleton ${linked} name ${ARG_NAME} > ${skel}
        DEPENDS ${linked}
        COMMENT "BPF skeleton ${ARG_NAME}.skel.h"
        VERBATIM)
    add_custom_target(${target}_gen DEPENDS ${skel})
    add_library(${target} INTERFACE)
    add_dependencies(${target} ${target}_gen)
    target_include_directories(${target} INTERFACE ${out_dir})
endfunction()
