# What `cmake --install build --prefix P` lays out, and the .deb (`cpack -G DEB` in the build directory):
#   P/bin/ihost, P/bin/stripe-double (for `ihost demo`)
#   P/lib/ihost/plugins/lib*.so            the shipped plugins (plugins/CMakeLists.txt installs them)
#   P/lib/systemd/system/ihost.service     the unit (packaging/ihost.service)
#   P/share/doc/ihost/                     README, docs/, the sample configuration as it ships in the repo
#   P/include/ih, P/lib/cmake/ihost_sdk, P/lib/pkgconfig/ihost_sdk.pc   the SDK (sdk/CMakeLists.txt)
#   /etc/ihost/ihost.toml (P/etc/ihost/ihost.toml unless P is /usr): config/ihost.toml with the installed
#     plugin directory and /var/lib/ihost for the database and the vault key file
include(GNUInstallDirs)

set(IH_INSTALL_PLUGIN_DIR lib/ihost/plugins)

if(TARGET stripe-double)
  install(TARGETS stripe-double RUNTIME DESTINATION bin)
endif()

# The sample configuration and the systemd unit, made at install time so that they name the prefix the files
# land in (`--prefix`, or /usr for the .deb) and the configuration directory: /etc/ihost for /usr, else
# <prefix>/etc/ihost.
install(CODE "
  set(prefix \"\${CMAKE_INSTALL_PREFIX}\")
  set(root \"\$ENV{DESTDIR}\")
  if(prefix STREQUAL \"/usr\")
    set(etc /etc/ihost)
  else()
    set(etc \"\${prefix}/etc/ihost\")
  endif()
  file(READ \"${CMAKE_SOURCE_DIR}/config/ihost.toml\" text)
  string(REPLACE \"# Run from the repository root:   build/ihost serve --config config/ihost.toml\"
    \"# Installed by ihost: the service runs  ihost serve --config \${etc}/ihost.toml  (ihost.service)\" text \"\${text}\")
  string(REPLACE \"path = \\\"../ihost-data/ihost.db\\\"\" \"path = \\\"/var/lib/ihost/ihost.db\\\"\" text \"\${text}\")
  string(REPLACE \"key_file = \\\"../ihost-data/vault.keys\\\"\" \"key_file = \\\"/var/lib/ihost/vault.keys\\\"\" text \"\${text}\")
  string(REPLACE \"dir = \\\"../build/plugins\\\"\" \"dir = \\\"\${prefix}/${IH_INSTALL_PLUGIN_DIR}\\\"\" text \"\${text}\")
  # Serves as installed: the Stripe BYOK integration on, the example plugin's table (it needs a secret you
  # choose) left to the copy in share/doc/ihost/examples.
  string(FIND \"\${text}\" \"[integrations.example]\" from)
  string(FIND \"\${text}\" \"# ---- Stripe, bring-your-own-key\" to)
  if(from GREATER 0 AND to GREATER from)
    string(SUBSTRING \"\${text}\" 0 \${from} head)
    string(SUBSTRING \"\${text}\" \${to} -1 tail)
    set(text \"\${head}# The example plugin's table: share/doc/ihost/examples/ihost.toml.\n\n\${tail}\")
  endif()
  set(byok \"[integrations.stripe_byok]\\nplugin = \\\"stripe_byok\\\"\\napi_base_url = \\\"https://api.stripe.com\\\"\\nstripe_version = \\\"2024-06-20\\\"\\nwebhook_tolerance_s = 300\\n\")
  string(REPLACE \"\\n\" \"\\n# \" commented \"# \${byok}\")
  string(REGEX REPLACE \"# $\" \"\" commented \"\${commented}\")
  string(REPLACE \"\${commented}\" \"\${byok}\" text \"\${text}\")
  file(MAKE_DIRECTORY \"\${root}\${etc}\")
  if(EXISTS \"\${root}\${etc}/ihost.toml\" AND root STREQUAL \"\")
    message(STATUS \"Keeping \${etc}/ihost.toml; the new sample is \${etc}/ihost.toml.sample\")
    file(WRITE \"\${root}\${etc}/ihost.toml.sample\" \"\${text}\")
  else()
    message(STATUS \"Installing: \${root}\${etc}/ihost.toml\")
    file(WRITE \"\${root}\${etc}/ihost.toml\" \"\${text}\")
  endif()
  file(READ \"${CMAKE_SOURCE_DIR}/packaging/ihost.service\" unit)
  string(REPLACE \"@IH_BIN_DIR@\" \"\${prefix}/bin\" unit \"\${unit}\")
  string(REPLACE \"@IH_DOC_DIR@\" \"\${prefix}/share/doc/ihost\" unit \"\${unit}\")
  string(REPLACE \"/etc/ihost/\" \"\${etc}/\" unit \"\${unit}\")
  file(MAKE_DIRECTORY \"\${root}\${prefix}/lib/systemd/system\")
  message(STATUS \"Installing: \${root}\${prefix}/lib/systemd/system/ihost.service\")
  file(WRITE \"\${root}\${prefix}/lib/systemd/system/ihost.service\" \"\${unit}\")
")

install(FILES README.md DESTINATION share/doc/ihost)
install(DIRECTORY docs/ DESTINATION share/doc/ihost FILES_MATCHING PATTERN "*.md" PATTERN "*.yaml" PATTERN "*.yml"
        PATTERN "*.json")
install(FILES config/ihost.toml DESTINATION share/doc/ihost/examples)

# .deb: `cpack -G DEB` (run in the build directory after building ihost_bundle). Library dependencies come
# from dpkg-shlibdeps; the maintainer scripts create the ihost user and /var/lib/ihost.
set(CPACK_PACKAGE_NAME ihost)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "ihost maintainers <maintainers@ihost.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "integrations host runtime (Stripe BYOK and Connect plugins)")
set(CPACK_PACKAGE_INSTALL_DIRECTORY ihost)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/packaging/postinst ${CMAKE_SOURCE_DIR}/packaging/prerm ${CMAKE_SOURCE_DIR}/packaging/postrm
    ${CMAKE_SOURCE_DIR}/packaging/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
