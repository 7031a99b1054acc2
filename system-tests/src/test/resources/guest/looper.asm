; A boot sector that is a whole guest writing for ever: pass after pass it writes SECTORS sectors
; to the second disk (BIOS drive 0x81, a virtio-blk disk) through BIOS extended writes (int 13h,
; AH=43h), 64 sectors at a time, every byte of a pass the pass's number (1, 2, ... 255, 0, 1 ...),
; so a test can tell whether anything was written since it last looked. If a write fails, the
; guest makes QEMU exit at once through the isa-debug-exit port.
; Build: nasm -f bin -DSECTORS=<n> -o looper.bin looper.asm
bits 16
org 0x7c00

start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    sti
pass:
    inc byte [pattern]
    mov ax, 0x1000              ; a 32 KiB buffer at 1000:0000, filled with the pass's number
    mov es, ax
    xor di, di
    mov cx, 0x8000
    mov al, [pattern]
    rep stosb
    mov dword [lba], 0
next:
    mov si, packet
    mov ah, 0x43
    xor al, al
    mov dl, 0x81
    int 0x13
    jc failed
    add dword [lba], 64
    cmp dword [lba], SECTORS
    jb next
    jmp pass
failed:
    mov al, 1                   ; QEMU exits with status 3: a write failed
    out 0xf4, al
halt:
    cli
    hlt
    jmp halt

pattern:
    db 0
packet:
    db 0x10, 0                  ; size of this disk address packet
    dw 64                       ; sectors per write
    dw 0x0000, 0x1000           ; buffer offset, segment
lba:
    dd 0, 0                     ; first sector of the write

times 510 - ($ - $$) db 0
dw 0xaa55
