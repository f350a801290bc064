# `cmake --build build --target docs`: the architecture picture (docs/architecture.svg from its
# Graphviz source, docs/architecture.dot; the SVG is committed beside it so that the README shows
# it on any forge) and the API reference from the public headers' comments (Doxygen, into
# build/docs/api/html, warnings on undocumented names). Both tools are Debian packages
# (graphviz, doxygen; scripts/setup.sh installs them); without them the target says what is
# missing.
find_program(KBUS_DOT dot)
find_program(KBUS_DOXYGEN doxygen)
set(kbus_docs_out ${CMAKE_CURRENT_BINARY_DIR}/docs)
if(KBUS_DOT)
  add_custom_command(
    OUTPUT ${kbus_docs_out}/architecture.svg
    COMMAND ${CMAKE_COMMAND} -E make_directory ${kbus_docs_out}
    COMMAND ${KBUS_DOT} -Tsvg ${CMAKE_CURRENT_SOURCE_DIR}/docs/architecture.dot
            -o ${kbus_docs_out}/architecture.svg
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/docs/architecture.dot
    COMMENT "Drawing docs/architecture.svg from docs/architecture.dot")
  # Refreshes the committed copy (the README's picture) from the source.
  add_custom_target(architecture_svg
    COMMAND ${CMAKE_COMMAND} -E copy ${kbus_docs_out}/architecture.svg
            ${CMAKE_CURRENT_SOURCE_DIR}/docs/architecture.svg
    DEPENDS ${kbus_docs_out}/architecture.svg)
else()
  add_custom_target(architecture_svg
    COMMAND ${CMAKE_COMMAND} -E echo "docs: graphviz's dot not found (apt install graphviz)"
    COMMAND ${CMAKE_COMMAND} -E false)
endif()
if(KBUS_DOXYGEN)
  configure_file(${CMAKE_CURRENT_SOURCE_DIR}/docs/Doxyfile.in ${kbus_docs_out}/Doxyfile @ONLY)
  add_custom_target(api_docs
    COMMAND ${KBUS_DOXYGEN} ${kbus_docs_out}/Doxyfile
    WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}
    COMMENT "API reference: ${kbus_docs_out}/api/html/index.html (warnings: ${kbus_docs_out}/doxygen-warnings.txt)")
else()
  add_custom_target(api_docs
    COMMAND ${CMAKE_COMMAND} -E echo "docs: doxygen not found (apt install doxygen)"
    COMMAND ${CMAKE_COMMAND} -E false)
endif()
add_custom_target(docs DEPENDS architecture_svg api_docs)
