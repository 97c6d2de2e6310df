/*
 * libicudata.so.NN for the desktop build: ICU's data symbol (icudtNN_dat) holding the trimmed
 * package that tools/icu_data.py writes (the collation data only; see there for why).
 *
 * build.spec compiles it with
 *   cc -shared -nostdlib -fPIC -DICU_ENTRY=icudtNN_dat -DICU_DATA_FILE='"/path/pkg.dat"'
 *      -Wl,-soname,libicudata.so.NN -o libicudata.so.NN tools/icu_data.c
 * The package is included as it is (.incbin), 16-byte aligned as ICU expects.
 */
#if !defined(ICU_ENTRY) || !defined(ICU_DATA_FILE)
#error "compile with -DICU_ENTRY=icudtNN_dat -DICU_DATA_FILE='\"package.dat\"'"
#endif

#define ICU_STR2(x) #x
#define ICU_STR(x) ICU_STR2(x)

__asm__(
    "  .section .rodata\n"
    "  .global " ICU_STR(ICU_ENTRY) "\n"
    "  .type " ICU_STR(ICU_ENTRY) ", @object\n"
    "  .balign 16\n"
    ICU_STR(ICU_ENTRY) ":\n"
    "  .incbin \"" ICU_DATA_FILE "\"\n"
    "  .size " ICU_STR(ICU_ENTRY) ", . - " ICU_STR(ICU_ENTRY) "\n"
    "  .section .note.GNU-stack,\"\",@progbits\n");
