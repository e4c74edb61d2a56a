# packages.cmake: the Debian packages, built with CPack from the install rules.
#
#   cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DKDC_BUILD_TESTS=OFF
#   cmake --build build -j2
#   (cd build && cpack -G DEB)      # kdc-server_VERSION_ARCH.deb, kdc-device_VERSION_ARCH.deb
#
# kdc-server: kdc-aggregator, kdc-stats, kdc-rollup, kdc-report, kdc-ward, the systemd
#   units (kdc-aggregator@, kdc-mosquitto@, kdc-rollup@), the sysusers.d entry
#   of user kdc, the dashboard files, the templates and examples, man pages.
#   Its maintainer scripts (deploy/debian/) create user kdc and never touch a
#   ward's files: `dpkg -r`, `dpkg -P` and a reinstall keep the database,
#   certificates and accounts.
# kdc-device: kdc-event and kdc-sim, man pages.
#
# Which package a file goes to is its install component: the top-level
# CMakeLists.txt makes "server" the default and producers/ says "device".
# Shared-library dependencies come from dpkg-shlibdeps (package dpkg-dev).
# Files always go under /usr in the packages, whatever CMAKE_INSTALL_PREFIX
# says (the units are rewritten at install time, see deploy/CMakeLists.txt).

# ---- man pages from --help (help2man), when help2man is installed ----------
find_program(KDC_HELP2MAN help2man)
set(KDC_MAN_DIR ${CMAKE_BINARY_DIR}/man)
set(kdc_man_pages)

# kdc_man_page(PROGRAM COMPONENT "one-line description" COMMAND...)
function(kdc_man_page prog component what)
  set(page ${KDC_MAN_DIR}/${prog}.1)
  add_custom_command(OUTPUT ${page}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${KDC_MAN_DIR}
    COMMAND ${KDC_HELP2MAN} --no-info --no-discard-stderr
            --version-string=${PROJECT_VERSION} --name=${what}
            --output=${page} ${ARGN}
    COMMAND gzip -9nf ${page}
    DEPENDS ${ARGN}
    COMMENT "man page ${prog}.1"
    VERBATIM)
  install(FILES ${page}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT ${component})
  set(kdc_man_pages ${kdc_man_pages} ${page}.gz PARENT_SCOPE)
endfunction()

if(KDC_HELP2MAN)
  set(kdc_man_programs
      "kdc-aggregator|server|the kdc ward server: stores events, publishes statistics"
      "kdc-stats|server|the ward's adoption statistics in a terminal"
      "kdc-rollup|server|adds the wards' statistics up for a province"
      "kdc-report|server|the reports a ward hands upward: its events as CSV"
      "kdc-event|device|records a team's work on a device and sends it to the ward server"
      "kdc-sim|device|simulates a ward's door-to-door campaign")
  foreach(entry IN LISTS kdc_man_programs)
    string(REPLACE "|" ";" parts "${entry}")
    list(GET parts 0 prog)
    list(GET parts 1 component)
    list(GET parts 2 what)
    if(TARGET ${prog})
      kdc_man_page(${prog} ${component} "${what}" $<TARGET_FILE:${prog}>)
    endif()
  endforeach()
  kdc_man_page(kdc-ward server "sets up a kdc ward server and its device accounts"
               ${PROJECT_SOURCE_DIR}/deploy/kdc-ward)
  add_custom_target(kdc-man ALL DEPENDS ${kdc_man_pages})
else()
  message(STATUS "packages: help2man not found, no man pages (apt-get install help2man)")
endif()

# ---- CPack --------------------------------------------------------------------
set(KDC_PACKAGE_MAINTAINER "kdc developers <kdc@example.invalid>" CACHE STRING
    "Maintainer field of the Debian packages")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME kdc)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR kdc)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL server device)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${KDC_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)

set(CPACK_DEBIAN_SERVER_PACKAGE_NAME kdc-server)
set(CPACK_DEBIAN_SERVER_PACKAGE_SECTION net)
# mosquitto: the ward broker and mosquitto_passwd; openssl: the ward CA;
# systemd: the units and systemd-sysusers; util-linux: flock, setpriv, runuser.
set(CPACK_DEBIAN_SERVER_PACKAGE_DEPENDS "mosquitto (>= 2.0), openssl, systemd, util-linux")
set(CPACK_DEBIAN_SERVER_PACKAGE_RECOMMENDS "nginx, mosquitto-clients, sqlite3")
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/deploy/debian/postinst
    ${PROJECT_SOURCE_DIR}/deploy/debian/prerm
    ${PROJECT_SOURCE_DIR}/deploy/debian/postrm)
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_COMPONENT_SERVER_DESCRIPTION
    "kdc ward server: aggregator, statistics viewer, province roll-up, kdc-ward\n\
The ward server of the kdc event pipeline (digital residential area):\n\
kdc-aggregator stores every team device's events exactly once and publishes\n\
the adoption statistics; kdc-ward sets up the ward's broker (mosquitto with\n\
TLS, accounts and ACL), certificates and device accounts; systemd units,\n\
the web dashboard and man pages.")

set(CPACK_DEBIAN_DEVICE_PACKAGE_NAME kdc-device)
set(CPACK_DEBIAN_DEVICE_PACKAGE_SECTION net)
set(CPACK_COMPONENT_DEVICE_DESCRIPTION
    "kdc team device tools: kdc-event and kdc-sim\n\
kdc-event records a community digital-technology team's visits, accounts,\n\
payments and services in a local outbox and sends them to the ward server;\n\
kdc-sim simulates a ward's campaign through the same library.")

include(CPack)
